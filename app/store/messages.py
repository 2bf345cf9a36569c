"""Every text the patient store and its IT commands show to a person, in Spanish (default) and English.

The store raises `StoreError` with a code and parameters rather than a sentence, so the desktop app and the CLI
can show the same failure in the clinic's language; `tests/store/test_messages.py` checks that both catalogs have
every key with the same placeholders. Texts never contain patient data: parameters are paths, counts, codes and
staff logins.
"""

from __future__ import annotations

from typing import Any

from app.core.messages import LocalisedError, render

LANGUAGES = ("es", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # --- errors -------------------------------------------------------------------------------------------
    "not_initialised": {
        "es": "No hay una base de datos de Vereda en {path}. Créela con «vereda init».",
        "en": "There is no Vereda database in {path}. Create one with 'vereda init'.",
    },
    "already_initialised": {
        "es": "Ya existe una base de datos de Vereda en {path}; no se sobrescribe.",
        "en": "A Vereda database already exists in {path}; it is not overwritten.",
    },
    "wrong_credentials": {
        "es": "Usuario o contraseña incorrectos.",
        "en": "Wrong user name or passphrase.",
    },
    "too_many_attempts": {
        "es": "Demasiados intentos fallidos. Espere {seconds} s antes de volver a intentarlo.",
        "en": "Too many failed attempts. Wait {seconds} s before trying again.",
    },
    "wrong_recovery_key": {
        "es": "La clave de recuperación no abre esta base de datos.",
        "en": "The recovery key does not open this database.",
    },
    "recovery_key_typo": {
        "es": "La clave de recuperación tiene un error de escritura (la suma de control no coincide). "
        "Revise cada grupo de letras.",
        "en": "The recovery key has a typing mistake (its checksum does not match). Check each group of letters.",
    },
    "user_disabled": {
        "es": "La cuenta «{login}» está desactivada. Pida a un administrador que la active.",
        "en": "The account '{login}' is disabled. Ask an administrator to enable it.",
    },
    "database_key_mismatch": {
        "es": "La clave no abre la base de datos {path}: no es una base de datos de Vereda o es de otra clínica.",
        "en": "The key does not open the database {path}: it is not a Vereda database or belongs to another clinic.",
    },
    "database_damaged": {
        "es": "La base de datos {path} está dañada ({detail}). Restaure la última copia de seguridad "
        "con «vereda restore».",
        "en": "The database {path} is damaged ({detail}). Restore the latest backup with 'vereda restore'.",
    },
    "database_empty": {
        "es": "La base de datos {path} está vacía (0 bytes): no tiene los registros de la clínica y no se escribe "
        "nada en ella. Restaure la última copia de seguridad con «vereda restore»; si esta carpeta nunca tuvo "
        "registros (una instalación interrumpida), muévala a otro lugar y repita «vereda init».",
        "en": "The database {path} is empty (0 bytes): it does not hold the clinic's records and nothing is written "
        "to it. Restore the latest backup with 'vereda restore'; if this folder never held records (an interrupted "
        "setup), move it elsewhere and run 'vereda init' again.",
    },
    "database_foreign": {
        "es": "El archivo {path} no es una base de datos cifrada de Vereda ({detail}); no se escribe nada en él. "
        "Restaure la última copia de seguridad con «vereda restore».",
        "en": "The file {path} is not an encrypted Vereda database ({detail}); nothing is written to it. Restore "
        "the latest backup with 'vereda restore'.",
    },
    "unfinished_setup": {
        "es": "La carpeta {path} tiene una instalación sin terminar ({detail}), quizá de una versión anterior "
        "interrumpida: Vereda no puede usarla ni la sobrescribe. Si nunca tuvo registros de pacientes, muévala a "
        "otro lugar (o bórrela) y repita la orden; si los tuvo, restaure la copia de seguridad con "
        "«vereda restore».",
        "en": "The folder {path} holds an unfinished setup ({detail}), perhaps from an interrupted earlier version: "
        "Vereda can neither use it nor overwrite it. If it never held patient records, move it elsewhere (or "
        "delete it) and run the command again; if it did, restore the backup with 'vereda restore'.",
    },
    "folder_not_empty": {
        "es": "{path} no es una carpeta vacía; elija una carpeta nueva o vacía para la clínica.",
        "en": "{path} is not an empty folder; choose a new or empty folder for the clinic.",
    },
    "disk_full": {
        "es": "No queda espacio en el disco de {path}. Lo último que pidió no se guardó; lo que ya estaba "
        "guardado está a salvo. Libere espacio y repita la acción.",
        "en": "The disk holding {path} is full. What you just asked for was not saved; everything saved before is "
        "safe. Free some space and try again.",
    },
    "disk_write_failed": {
        "es": "No se pudo escribir en el disco de {path} ({detail}); puede estar lleno o fallando. Lo último que "
        "pidió no se guardó. Libere espacio o revise el disco y repita la acción.",
        "en": "Could not write to the disk holding {path} ({detail}); it may be full or failing. What you just "
        "asked for was not saved. Free some space or check the disk and try again.",
    },
    "database_missing": {
        "es": "No se encuentra la base de datos {path} aunque sus claves sí están. Restaure la última copia de "
        "seguridad con «vereda restore».",
        "en": "The database {path} is missing although its keys are there. Restore the latest backup with "
        "'vereda restore'.",
    },
    "database_unreadable": {
        "es": "No se pudo leer la base de datos {path}: {detail}.",
        "en": "The database {path} could not be read: {detail}.",
    },
    "in_use": {
        "es": "La base de datos de {path} está abierta en otro programa de Vereda. Ciérrelo e intente de nuevo.",
        "en": "The database in {path} is open in another Vereda program. Close it and try again.",
    },
    "locked": {
        "es": "La sesión está bloqueada; inicie sesión de nuevo.",
        "en": "The session is locked; log in again.",
    },
    "not_allowed": {
        "es": "Su rol ({role}) no permite esta acción ({action}).",
        "en": "Your role ({role}) does not allow this action ({action}).",
    },
    "passphrase_too_short": {
        "es": "La contraseña debe tener al menos {minimum} caracteres.",
        "en": "The passphrase must have at least {minimum} characters.",
    },
    "passphrases_differ": {
        "es": "Las contraseñas no coinciden.",
        "en": "The passphrases do not match.",
    },
    "passphrase_change_required": {
        "es": "Debe cambiar su contraseña antes de continuar.",
        "en": "You must change your passphrase before continuing.",
    },
    "invalid_login": {
        "es": "Nombre de usuario no válido «{login}»: use de 2 a 32 letras minúsculas, números, punto, guion o "
        "guion bajo.",
        "en": "Invalid user name '{login}': use 2 to 32 lower-case letters, digits, dot, hyphen or underscore.",
    },
    "login_taken": {
        "es": "Ya existe un usuario «{login}».",
        "en": "A user '{login}' already exists.",
    },
    "invalid_role": {
        "es": "Rol no válido «{role}»; use doctor, nurse o admin.",
        "en": "Invalid role '{role}'; use doctor, nurse or admin.",
    },
    "unknown_user": {
        "es": "No existe el usuario {user}.",
        "en": "There is no user {user}.",
    },
    "last_admin": {
        "es": "No se puede desactivar ni cambiar de rol al último administrador activo.",
        "en": "The last active administrator cannot be disabled or given another role.",
    },
    "cannot_disable_self": {
        "es": "No puede desactivar su propia cuenta.",
        "en": "You cannot disable your own account.",
    },
    "unknown_patient": {
        "es": "No existe el paciente {patient}.",
        "en": "There is no patient {patient}.",
    },
    "patient_exists": {
        "es": "Ya hay un paciente con el documento {document_type} indicado.",
        "en": "There is already a patient with that {document_type} document.",
    },
    "unknown_encounter": {
        "es": "No existe la consulta {encounter}.",
        "en": "There is no encounter {encounter}.",
    },
    "encounter_closed": {
        "es": "La consulta {encounter} ya está cerrada y no se puede modificar.",
        "en": "The encounter {encounter} is already closed and cannot be changed.",
    },
    "encounter_incomplete": {
        "es": "La consulta no se puede cerrar sin la solicitud y la respuesta del diagnóstico.",
        "en": "The encounter cannot be closed without the diagnose request and response.",
    },
    "invalid_code": {
        "es": "Código de diagnóstico no válido «{code}»: use CIE-10 (por ejemplo J18.9) u ORPHA (ORPHA:558).",
        "en": "Invalid diagnosis code '{code}': use ICD-10 (for example J18.9) or ORPHA (ORPHA:558).",
    },
    "invalid_setting": {
        "es": "El ajuste «{key}» no admite ese valor; se espera: {expected}.",
        "en": "The setting '{key}' does not take that value; expected: {expected}.",
    },
    "invalid_field": {
        "es": "El campo «{field}» no es válido.",
        "en": "The field '{field}' is not valid.",
    },
    "missing_field": {
        "es": "Falta el campo obligatorio «{field}».",
        "en": "The required field '{field}' is missing.",
    },
    "invalid_document_type": {
        "es": "Tipo de documento no válido «{value}»; use uno de: {allowed}.",
        "en": "Invalid document type '{value}'; use one of: {allowed}.",
    },
    "backup_unreadable": {
        "es": "El archivo {path} no es una copia de seguridad de Vereda o está dañado ({detail}).",
        "en": "The file {path} is not a Vereda backup or is damaged ({detail}).",
    },
    "backup_target_newer": {
        "es": "La base de datos de {path} es más reciente que la copia ({current} registros de auditoría frente "
        "a {backup}). No se restauró nada. Use --force para reemplazarla; la actual se conservará aparte.",
        "en": "The database in {path} is newer than the backup ({current} audit entries against {backup}). "
        "Nothing was restored. Use --force to replace it; the current one will be kept aside.",
    },
    "backup_target_diverged": {
        "es": "La base de datos de {path} y la copia tienen cambios distintos desde el registro {seq}. "
        "No se restauró nada. Use --force para reemplazarla; la actual se conservará aparte.",
        "en": "The database in {path} and the backup have different changes since entry {seq}. Nothing was "
        "restored. Use --force to replace it; the current one will be kept aside.",
    },
    "backup_target_foreign": {
        "es": "La base de datos de {path} es de otra clínica o usa otra clave. No se restauró nada. Use --force "
        "para reemplazarla; la actual se conservará aparte.",
        "en": "The database in {path} belongs to another clinic or uses another key. Nothing was restored. Use "
        "--force to replace it; the current one will be kept aside.",
    },
    "backup_target_unreadable": {
        "es": "La base de datos de {path} es de esta clínica pero no se puede leer (¿dañada?). No se restauró "
        "nada. Use --force para reemplazarla; la actual se conservará aparte.",
        "en": "The database in {path} belongs to this clinic but cannot be read (damaged?). Nothing was restored. "
        "Use --force to replace it; the current one will be kept aside.",
    },
    "keyring_damaged": {
        "es": "El archivo de claves {path} está dañado ({detail}). Restaure una copia de seguridad con la clave "
        "de recuperación.",
        "en": "The key file {path} is damaged ({detail}). Restore a backup with the recovery key.",
    },
    "schema_too_new": {
        "es": "La base de datos usa un esquema más nuevo ({found}) que esta versión de Vereda. Actualice Vereda.",
        "en": "The database uses a newer schema ({found}) than this version of Vereda. Update Vereda.",
    },
    "no_terminal": {
        "es": "Se necesita {what} y no hay una terminal para preguntarlo; use {option}.",
        "en": "{what} is needed and there is no terminal to ask for it; use {option}.",
    },
    "unreadable_file": {
        "es": "No se pudo leer {path}: {detail}.",
        "en": "Could not read {path}: {detail}.",
    },
    # --- CLI prompts and reports -------------------------------------------------------------------------
    "what_passphrase": {"es": "la contraseña", "en": "The passphrase"},
    "what_recovery_key": {"es": "la clave de recuperación", "en": "The recovery key"},
    "what_clinic_name": {"es": "el nombre de la clínica", "en": "The clinic name"},
    "what_municipality": {"es": "el municipio", "en": "The municipality"},
    "what_admin_name": {"es": "el nombre del administrador", "en": "The administrator's name"},
    "prompt_clinic_name": {"es": "Nombre de la clínica: ", "en": "Clinic name: "},
    "prompt_municipality": {"es": "Municipio: ", "en": "Municipality: "},
    "prompt_admin_name": {"es": "Nombre del administrador: ", "en": "Administrator's name: "},
    "prompt_new_passphrase": {
        "es": "Contraseña nueva para «{login}» (mínimo {minimum} caracteres): ",
        "en": "New passphrase for '{login}' (at least {minimum} characters): ",
    },
    "prompt_passphrase_again": {"es": "Repita la contraseña: ", "en": "Repeat the passphrase: "},
    "prompt_passphrase": {"es": "Contraseña de «{login}»: ", "en": "Passphrase for '{login}': "},
    "prompt_recovery_key": {"es": "Clave de recuperación: ", "en": "Recovery key: "},
    "init_done": {
        "es": "Clínica «{name}» creada en {path}. Usuario administrador: {login}.",
        "en": "Clinic '{name}' created in {path}. Administrator user: {login}.",
    },
    "recovery_key_banner": {
        "es": "CLAVE DE RECUPERACIÓN — se muestra una sola vez. Escríbala en papel y guárdela bajo llave, "
        "lejos del portátil. Sirve para el acceso de emergencia y para restaurar copias en otro equipo:",
        "en": "RECOVERY KEY — shown only once. Write it on paper and keep it locked away from the laptop. It "
        "gives emergency access and restores backups on another computer:",
    },
    "demo_done": {
        "es": "Clínica de demostración en {path}: {patients} pacientes sintéticos, {encounters} consultas cerradas.",
        "en": "Demo clinic in {path}: {patients} synthetic patients, {encounters} closed encounters.",
    },
    "demo_login": {
        "es": "Usuario: {login}   Contraseña: {passphrase}",
        "en": "User: {login}   Passphrase: {passphrase}",
    },
    "check_ok": {"es": "correcto", "en": "ok"},
    "check_problem": {"es": "PROBLEMA", "en": "PROBLEM"},
    "check_all_ok": {
        "es": "Todas las comprobaciones de {path} pasaron.",
        "en": "All checks of {path} passed.",
    },
    "check_some_failed": {
        "es": "{count} comprobación(es) de {path} fallaron.",
        "en": "{count} check(s) of {path} failed.",
    },
    "backup_done": {
        "es": "Copia de seguridad cifrada escrita en {path} ({size} MB). Se restaura con la clave de recuperación.",
        "en": "Encrypted backup written to {path} ({size} MB). It is restored with the recovery key.",
    },
    "restore_done": {
        "es": "Copia restaurada en {path}; los usuarios entran con sus contraseñas de la fecha de la copia.",
        "en": "Backup restored in {path}; users log in with their passphrases as of the backup's date.",
    },
    "restore_kept": {
        "es": "La base de datos anterior se conservó en {path}.",
        "en": "The previous database was kept in {path}.",
    },
    # --- names of the checks -----------------------------------------------------------------------------
    "check.cipher_integrity": {
        "es": "Integridad del cifrado (cipher_integrity_check)",
        "en": "Encryption integrity (cipher_integrity_check)",
    },
    "check.sqlite_integrity": {
        "es": "Integridad de SQLite (integrity_check)",
        "en": "SQLite integrity (integrity_check)",
    },
    "check.foreign_keys": {"es": "Referencias entre tablas", "en": "References between tables"},
    "check.schema": {"es": "Versión del esquema", "en": "Schema version"},
    "check.audit_chain": {"es": "Cadena del registro de auditoría", "en": "Audit log hash chain"},
    "check.audit_anchor": {"es": "Ancla del registro de auditoría", "en": "Audit log anchor"},
    "check.audit_append_only": {
        "es": "Protección de solo-agregar del registro de auditoría",
        "en": "Append-only protection of the audit log",
    },
    "check.outbox": {
        "es": "Consultas cerradas con su registro de retroalimentación",
        "en": "Closed encounters with their feedback record",
    },
    "check.open": {"es": "Apertura de la base de datos", "en": "Opening the database"},
    # --- what a check found ------------------------------------------------------------------------------
    "problem.sqlite_message": {"es": "{detail}", "en": "{detail}"},
    "problem.pages_failed": {
        "es": "{count} página(s) no pasan la verificación HMAC: {detail}",
        "en": "{count} page(s) fail HMAC verification: {detail}",
    },
    "problem.audit_edited": {
        "es": "la entrada {seq} fue modificada (su huella no coincide)",
        "en": "entry {seq} was edited (its hash does not match)",
    },
    "problem.audit_missing": {
        "es": "faltan entradas entre {after} y {before}",
        "en": "entries between {after} and {before} are missing",
    },
    "problem.audit_relinked": {
        "es": "la entrada {seq} no enlaza con la anterior",
        "en": "entry {seq} does not link to the previous one",
    },
    "problem.audit_truncated": {
        "es": "trabajo ya guardado se perdió: el registro termina en {last} pero el ancla dice que llegó a "
        "{anchored} (se borraron entradas, o el archivo -wal tras un corte)",
        "en": "committed work lost: the log ends at {last} but the anchor says it reached {anchored} (entries "
        "were deleted, or the -wal file after a crash)",
    },
    "problem.audit_anchor_mismatch": {
        "es": "la entrada {seq} no es la que se ancló al cerrar: el registro fue reescrito",
        "en": "entry {seq} is not the one anchored at closing: the log was rewritten",
    },
    "problem.audit_anchor_missing": {
        "es": "falta el archivo de ancla {path} o no es auténtico",
        "en": "the anchor file {path} is missing or not authentic",
    },
    "problem.audit_trigger_missing": {
        "es": "falta el disparador {name} que impide modificar o borrar entradas",
        "en": "the trigger {name} that prevents editing or deleting entries is missing",
    },
    "problem.outbox_missing": {
        "es": "{count} consulta(s) cerrada(s) sin registro de retroalimentación",
        "en": "{count} closed encounter(s) without a feedback record",
    },
    "problem.schema_behind": {
        "es": "el esquema {found} no es el actual ({expected})",
        "en": "schema {found} is not the current one ({expected})",
    },
}


def text(code: str, lang: str = "es", /, **params: Any) -> str:
    """The message `code` in `lang`, with its placeholders filled."""
    return render(MESSAGES, code, lang, **params)


class StoreError(LocalisedError):
    """A failure of the patient store that a person can act on. `code` is a key of MESSAGES."""

    MESSAGES = MESSAGES
    KIND = "store error"
    report: object | None = None  # on "database_damaged": the failed check's report, which `vereda check` prints
    USER_FIXABLE = frozenset({"passphrase_too_short", "passphrases_differ", "invalid_login", "missing_field",
                              "recovery_key_typo", "no_terminal", "unreadable_file", "unknown_user", "login_taken",
                              "invalid_setting"})
