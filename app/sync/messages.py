"""Every text the sync client shows to a person, in Spanish (default) and English, and the `SyncError` that carries one.

The client raises `SyncError` with a code and parameters, never a sentence, so the desktop app and the CLI show the
same failure in the clinic's language (the central service's own messages are English, for IT staff; they appear
here only as a `detail`). Parameters are URLs, versions, sizes, counts and codes: never patient data, never the
device token. `tests/sync/test_units.py` checks both catalogs have every key with the same placeholders.
"""

from __future__ import annotations

from typing import Any

from app.core.messages import LocalisedError, render

LANGUAGES = ("es", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # --- enrollment and connection ----------------------------------------------------------------------------
    "not_enrolled": {
        "es": "Este equipo no está inscrito en el servicio central. Inscríbalo con "
        "«vereda enroll --server URL --code CÓDIGO».",
        "en": "This laptop is not enrolled with the central service. Enroll it with "
        "'vereda enroll --server URL --code CODE'.",
    },
    "already_enrolled": {
        "es": "Este equipo ya está inscrito en {url}. Use --force para inscribirlo de nuevo.",
        "en": "This laptop is already enrolled with {url}. Use --force to enroll it again.",
    },
    "invalid_url": {
        "es": "«{url}» no es una dirección válida del servicio central (ejemplo: https://vereda.example.org).",
        "en": "'{url}' is not a valid central service address (for example https://vereda.example.org).",
    },
    "insecure_url": {
        "es": "«{url}» usa http sin cifrar hacia otro equipo: el token del equipo viajaría a la vista. Use https://.",
        "en": "'{url}' uses unencrypted http to another machine: the device token would travel in clear. "
        "Use https://.",
    },
    "enrollment_code_unknown": {
        "es": "El código de inscripción no existe. Revíselo o pida uno nuevo.",
        "en": "The enrollment code does not exist. Check it or ask for a new one.",
    },
    "enrollment_code_used": {
        "es": "El código de inscripción ya fue usado. Pida uno nuevo.",
        "en": "The enrollment code was already used. Ask for a new one.",
    },
    "enrollment_code_expired": {
        "es": "El código de inscripción venció. Pida uno nuevo.",
        "en": "The enrollment code has expired. Ask for a new one.",
    },
    "invalid_token": {
        "es": "El servicio central ya no reconoce este equipo (token revocado o de otro servidor). "
        "Inscríbalo de nuevo.",
        "en": "The central service no longer recognises this laptop (revoked token or another server). "
        "Enroll it again.",
    },
    "unreachable": {
        "es": "No se pudo contactar el servicio central ({detail}). Nada se pierde: los datos quedan guardados "
        "y se enviarán en la próxima sincronización.",
        "en": "Could not reach the central service ({detail}). Nothing is lost: the data stay here and are sent "
        "at the next sync.",
    },
    "server_error": {
        "es": "El servicio central respondió con un error ({status}). Nada se pierde; se reintentará más tarde.",
        "en": "The central service answered with an error ({status}). Nothing is lost; it will be retried later.",
    },
    "batch_refused": {
        "es": "El servicio central rechazó el envío completo ({detail}).",
        "en": "The central service refused the whole batch ({detail}).",
    },
    "bad_response": {
        "es": "El servicio central dio una respuesta inesperada ({detail}).",
        "en": "The central service gave an unexpected answer ({detail}).",
    },
    # --- cloud predict ----------------------------------------------------------------------------------------
    "cloud_unavailable": {
        "es": "El modo «nube» necesita el servicio central y no respondió ({detail}). Para diagnosticar en este "
        "equipo, cambie el modo a «híbrido» o «sin conexión» en Preferencias.",
        "en": "Cloud mode needs the central service and it did not answer ({detail}). To diagnose on this "
        "laptop, switch the mode to 'hybrid' or 'offline' in Settings.",
    },
    "cloud_not_configured": {
        "es": "El modo «nube» necesita la dirección del servicio central; configúrela en Preferencias.",
        "en": "Cloud mode needs the central service address; set it in Settings.",
    },
    # --- model updates ----------------------------------------------------------------------------------------
    "update_too_large": {
        "es": "La actualización del modelo declara {size} bytes, más del máximo aceptado ({limit}); no se descarga.",
        "en": "The model update declares {size} bytes, more than the accepted maximum ({limit}); not downloaded.",
    },
    "update_endless": {
        "es": "La descarga del modelo trajo más datos de los {size} bytes declarados; se descartó.",
        "en": "The model download brought more data than the {size} bytes declared; it was discarded.",
    },
    "update_sha256_mismatch": {
        "es": "El archivo del modelo {version} no coincide con su huella sha256: fue alterado o se dañó en el "
        "camino; se descartó.",
        "en": "The archive of model {version} does not match its sha256: it was altered or damaged on the way; "
        "it was discarded.",
    },
    "update_unsafe_archive": {
        "es": "El archivo del modelo contiene una entrada no permitida ({name}); no se instala.",
        "en": "The model archive holds an entry that is not allowed ({name}); not installed.",
    },
    "update_unsigned": {
        "es": "El modelo no está firmado; no se instala.",
        "en": "The model is not signed; not installed.",
    },
    "update_bad_signature": {
        "es": "La firma del modelo no corresponde a la clave de confianza de esta instalación; no se instala.",
        "en": "The model's signature does not match this installation's trusted key; not installed.",
    },
    "update_manifest_mismatch": {
        "es": "El modelo recibido no es el anunciado por el servicio central ({detail}); no se instala.",
        "en": "The model received is not the one the central service announced ({detail}); not installed.",
    },
    "update_files_mismatch": {
        "es": "Los archivos del modelo no coinciden con su manifiesto firmado ({detail}); no se instala.",
        "en": "The model's files do not match its signed manifest ({detail}); not installed.",
    },
    "update_older": {
        "es": "El modelo {version} no es más nuevo que el instalado ({active}); no se instala (protección contra "
        "retrocesos).",
        "en": "Model {version} is not newer than the installed one ({active}); not installed (rollback "
        "protection).",
    },
    "update_expired": {
        "es": "El modelo {version} venció el {expires}; no se instala.",
        "en": "Model {version} expired on {expires}; not installed.",
    },
    "update_checks_failed": {
        "es": "El modelo {version} no pasó sus casos de verificación ({detail}); no se instala.",
        "en": "Model {version} failed its check cases ({detail}); not installed.",
    },
    "no_previous_bundle": {
        "es": "No hay un modelo anterior guardado al que volver.",
        "en": "There is no previous model kept to go back to.",
    },
    # --- USB ----------------------------------------------------------------------------------------------------
    "usb_nothing_to_export": {
        "es": "No hay retroalimentación pendiente para exportar.",
        "en": "There is no pending feedback to export.",
    },
    "usb_unreadable": {
        "es": "No se pudo leer el archivo {path} ({detail}).",
        "en": "Could not read the file {path} ({detail}).",
    },
    "usb_invalid_file": {
        "es": "El archivo {path} no es un archivo de Vereda válido, o fue alterado ({detail}).",
        "en": "The file {path} is not a valid Vereda file, or it was altered ({detail}).",
    },
    "usb_wrong_device": {
        "es": "El archivo {path} es de otro equipo o de otra clínica.",
        "en": "The file {path} belongs to another laptop or clinic.",
    },
    # --- summaries ------------------------------------------------------------------------------------------------
    "refused_records": {
        "es": "{count} registro(s) rechazado(s) por el servicio central; no se reintentan (ver el registro).",
        "en": "{count} record(s) refused by the central service; they are not retried (see the log).",
    },
}


def text(code: str, lang: str = "es", /, **params: Any) -> str:
    """The message `code` in `lang`, with its placeholders filled."""
    return render(MESSAGES, code, lang, **params)


class SyncError(LocalisedError):
    """A sync failure a person can act on (or wait out). `code` is a key of MESSAGES.

    `transient` says whether trying again later may work (no connection, a 500) or not (a bad signature, a revoked
    token): the GUI uses it to choose between a quiet status line and a message box.
    """

    MESSAGES = MESSAGES
    KIND = "sync error"
    USER_FIXABLE = frozenset({"invalid_url", "insecure_url", "already_enrolled", "enrollment_code_unknown",
                              "enrollment_code_used", "enrollment_code_expired", "usb_unreadable",
                              "usb_invalid_file", "usb_wrong_device"})

    def __init__(self, code: str, /, *, transient: bool = False, **params: Any) -> None:
        self.transient = transient
        super().__init__(code, **params)
