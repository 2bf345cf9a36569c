/* Vereda's consultation page: reads the findings, asks /v1/predict (same origin, session cookie + CSRF header),
   and draws the answer in the desktop app's order: the triage level first (colour and words), its reasons and the
   published scores, then the state and the rest. Plain script, no build step, no third-party code.
   Text is set with textContent only: nothing from a response is ever parsed as HTML.
   Nothing about the patient is stored: the findings live in the form and the answer in memory until "Clear". */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("page-data").textContent);
  const messages = data.messages;
  const stateLabels = data.vocabulary.states;  // es/en name of each clinical state
  const vocabulary = data.vocabulary;
  const symptomsByKey = Object.fromEntries(vocabulary.symptoms.map((s) => [s.key, s]));
  const vitalsByKey = Object.fromEntries(vocabulary.vitals.map((v) => [v.key, v]));
  const signGroupsByKey = Object.fromEntries(vocabulary.signs.map((g) => [g.key, g]));
  const signsByCode = Object.fromEntries(vocabulary.signs.flatMap((g) => g.signs.map((s) => [s.code, s])));
  const contract = data.contract;
  // The contract takes the age in years as a number (a 5-day-old is 5 / 365.25); the page also takes months and
  // days, converted here, because typing 0.0137 for a newborn invites mistakes.
  const AGE_UNITS = {
    years: { perYear: 1, label: "consult.age", result: "result.age", unit: "consult.unit_years" },
    months: { perYear: 12, label: "consult.age_months", result: "result.age_months", unit: "consult.unit_months" },
    days: { perYear: 365.25, label: "consult.age_days", result: "result.age_days", unit: "consult.unit_days" },
  };
  const MAX_BARS = 8; // as the desktop chart
  const MAX_RARE = 5;

  let lang = data.lang;
  let lastRequest = null;
  let lastResponse = null;
  let lastAge = null; // the age as typed ({value, unit}), to say it back in the doctor's unit
  let errorShown = false;

  const $ = (id) => document.getElementById(id);
  const form = $("consultation");
  const resultBody = $("result-body");
  const resultMessage = $("result-message");
  const placeholder = $("result-placeholder");
  const formError = $("form-error");
  const diagnoseButton = $("diagnose");
  // On a phone the answer is below the form: it is brought into view when it arrives.
  const narrow = window.matchMedia("(max-width: 959px)");

  function t(key, params) {
    const text = (messages[lang] && messages[lang][key]) || messages.es[key] || key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (params && name in params ? String(params[name]) : whole));
  }

  function pick(value) {
    if (value && typeof value === "object") return value[lang] || value.es || "";
    return value == null ? "" : String(value);
  }

  // Orphanet's names reach us in English only (a plain string; no Spanish list ships offline): on a page in
  // another language the name says so. A name given per language ({es, en}) is picked like any other text.
  function rareName(name) {
    if (name && typeof name === "object" && name[lang]) return name[lang];
    const english = name && typeof name === "object" ? name.en || "" : name == null ? "" : String(name);
    return lang === "en" ? english : t("result.name_in_english", { name: english });
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function fmt(x) {
    return Number.isInteger(x) ? String(x) : String(Math.round(x * 100) / 100);
  }

  /* --- language ------------------------------------------------------------------------------------------------ */

  function applyLanguage(next) {
    lang = next;
    document.documentElement.lang = lang;
    document.title = t("app.title");
    document.querySelectorAll("[data-i18n]").forEach((node) => {
      const params = {};
      for (const [name, value] of Object.entries(node.dataset)) {
        if (name.startsWith("i18n") && name !== "i18n" && !name.startsWith("i18nPlaceholder")
            && !name.startsWith("i18nLabel")) {
          params[name.slice(4).toLowerCase()] = value;
        }
      }
      node.textContent = t(node.dataset.i18n, params);
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => {
      node.placeholder = t(node.dataset.i18nPlaceholder);
    });
    document.querySelectorAll("[data-i18n-label]").forEach((node) => {
      node.setAttribute("aria-label", t(node.dataset.i18nLabel));
    });
    document.querySelectorAll("[data-system-label]").forEach((node) => {
      node.textContent = pick(vocabulary.systems[node.dataset.systemLabel]);
    });
    document.querySelectorAll("[data-symptom-label]").forEach((node) => {
      node.textContent = pick(symptomsByKey[node.dataset.symptomLabel].label);
    });
    document.querySelectorAll("[data-vital-label]").forEach((node) => {
      node.textContent = pick(vitalsByKey[node.dataset.vitalLabel].label);
    });
    document.querySelectorAll("[data-vital-unit]").forEach((node) => {
      node.textContent = pick(vitalsByKey[node.dataset.vitalUnit].unit);
    });
    document.querySelectorAll("[data-sign-group-label]").forEach((node) => {
      node.textContent = pick(signGroupsByKey[node.dataset.signGroupLabel].label);
    });
    document.querySelectorAll("[data-sign-label]").forEach((node) => {
      node.textContent = pick(signsByCode[node.dataset.signLabel].label);
    });
    document.querySelectorAll("[data-vital-range]").forEach((node) => {
      const [low, high] = vitalsByKey[node.dataset.vitalRange].plausible;
      node.textContent = t("consult.vital_range", { low: fmt(low), high: fmt(high) });
    });
    document.querySelectorAll(".lang-switch a").forEach((link) => {
      if (link.dataset.lang === lang) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    });
    document.querySelectorAll('input[name="lang"]').forEach((input) => { input.value = lang; });
    const secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = `vereda_lang=${lang}; Path=/app; Max-Age=31536000; SameSite=Lax${secure}`;
    history.replaceState(null, "", `${location.pathname}?lang=${lang}`);
    filterSymptoms();
    if (lastResponse) renderResult(lastRequest, lastResponse);
    // A contract error came in the old language: ask again (nothing is stored, so asking twice is harmless).
    if (errorShown && lastRequest) submit();
  }

  document.querySelectorAll(".lang-switch a").forEach((link) => {
    link.addEventListener("click", (event) => {
      event.preventDefault(); // switch in place: keep what the doctor typed and the answer on screen
      applyLanguage(link.dataset.lang);
    });
  });

  /* --- symptoms: search, "only entered", count ------------------------------------------------------------------ */

  const search = $("symptom-search");
  const onlyEntered = $("only-entered");
  const symptomInputs = Array.from(form.querySelectorAll(".symptom input"));
  const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  // As the desktop's search (app/core/symptom_search.py): labels, key, body system and everyday words («falta de
  // aire»), filler words dropped («dolor de pecho»), a plural found in the singular («vómitos»).
  const terms = vocabulary.search;
  const filler = new Set(terms.filler_words);
  const haystack = terms.haystacks;  // each symptom's names, folded, made by the server as the desktop makes them
  const found = (word, names) => names.includes(word) || (word.length >= terms.min_plural && word.endsWith("s")
    && (names.includes(word.slice(0, -1)) || (word.endsWith("es") && names.includes(word.slice(0, -2)))));

  function filterSymptoms() {
    const typed = fold(search.value).split(/\s+/).filter(Boolean);
    const words = typed.length <= 1 ? typed : typed.filter((w) => !filler.has(w));
    let shown = 0;
    document.querySelectorAll(".system").forEach((system) => {
      let visible = 0;
      system.querySelectorAll(".symptom").forEach((row) => {
        const input = row.querySelector("input");
        const match = words.every((w) => found(w, haystack[row.dataset.symptom]))
          && (!onlyEntered.checked || input.value !== "" || input.validity.badInput);
        row.hidden = !match;
        if (match) visible += 1;
      });
      system.hidden = visible === 0;
      shown += visible;
    });
    $("no-match").hidden = shown > 0;
  }

  function updateCount() {
    const count = symptomInputs.filter((i) => i.value !== "" && Number(i.value) >= 1).length;
    const node = $("entered-count");
    node.dataset.i18nCount = String(count);
    node.textContent = t("consult.entered", { count });
  }

  search.addEventListener("input", filterSymptoms);
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { // Enter in the search jumps to the first matching symptom, not submit
      event.preventDefault();
      const first = symptomInputs.find((i) => !i.closest(".symptom").hidden && !i.closest(".system").hidden);
      if (first) first.focus();
    }
  });
  onlyEntered.addEventListener("change", filterSymptoms);
  symptomInputs.forEach((input) => input.addEventListener("input", updateCount));

  /* --- patient: the age's unit, the pregnancy box; the signs count ---------------------------------------------- */

  const ageInput = $("age");
  const ageUnit = $("age-unit");
  const pregnancyBox = $("pregnancy");
  const pregnancyStatus = $("pregnancy-status");
  const signInputs = Array.from(form.querySelectorAll('.sign input[type="checkbox"]'));

  function updateAgeUnit() {
    const label = $("age-label");
    label.dataset.i18n = AGE_UNITS[ageUnit.value].label;
    label.textContent = t(label.dataset.i18n);
  }

  function ageInYears() {
    if (ageInput.validity.badInput || ageInput.value.trim() === "") return null;
    const value = Number(ageInput.value);
    return Number.isFinite(value) ? value / AGE_UNITS[ageUnit.value].perYear : null;
  }

  // The contract accepts `pregnancy` only for women of 10 to 60 years: the box is shown only for them and, while
  // hidden, nothing of it is sent (so changing the sex or the age never turns into a refused request).
  function updatePregnancy() {
    const sex = form.querySelector('input[name="sex"]:checked');
    const age = ageInYears();
    const [low, high] = contract.pregnancy_age;
    pregnancyBox.hidden = !(sex && sex.value === "F" && age !== null && age >= low && age <= high);
    $("pregnancy-weeks-field").hidden = pregnancyStatus.value !== "pregnant";
    $("pregnancy-days-field").hidden = pregnancyStatus.value !== "postpartum";
  }

  // The signs of the patient's age and sex only (signs.toml's `ages` and `sex`: no "unable to breastfeed" at 78, no
  // vaginal bleeding for a man), as the desktop checklist does; an age or sex not given yet hides nothing by it. A
  // ticked sign always stays on screen and is sent: the contract accepts it and the danger-sign rules read it at any
  // age. Run on an age or sex change, not on a tick, so a box unticked outside them does not vanish under the finger.
  function updateSignsForPatient() {
    const age = ageInYears();
    const checkedSex = form.querySelector('input[name="sex"]:checked');
    const sex = checkedSex ? checkedSex.value : null;
    signInputs.forEach((input) => {
      const sign = signsByCode[input.value];
      const ages = sign.ages;
      const applies = (age === null || (age >= ages.from && (ages.below === null || age < ages.below)))
        && (sex === null || sign.sex === null || sign.sex === sex);
      input.closest(".sign").hidden = !(applies || input.checked);
    });
    document.querySelectorAll(".sign-group").forEach((group) => {
      group.hidden = Array.from(group.querySelectorAll(".sign")).every((label) => label.hidden);
    });
  }

  function updateSignsCount() {
    const count = signInputs.filter((i) => i.checked).length;
    const node = $("signs-count");
    node.dataset.i18nCount = String(count);
    node.textContent = t("consult.signs_entered", { count });
  }

  ageInput.addEventListener("input", () => { updatePregnancy(); updateSignsForPatient(); });
  ageUnit.addEventListener("change", () => { updateAgeUnit(); updatePregnancy(); updateSignsForPatient(); });
  form.querySelectorAll('input[name="sex"]').forEach((radio) => radio.addEventListener("change", () => {
    updatePregnancy();
    updateSignsForPatient();
  }));
  pregnancyStatus.addEventListener("change", updatePregnancy);
  signInputs.forEach((input) => input.addEventListener("change", updateSignsCount));

  /* --- errors next to their field ------------------------------------------------------------------------------- */

  const FIELD_LABELS = {
    sex: "consult.sex", duration_days: "consult.duration", pregnancy: "consult.pregnancy",
    "pregnancy.status": "consult.pregnancy_status", "pregnancy.weeks": "consult.pregnancy_weeks",
    "pregnancy.days_since_delivery": "consult.pregnancy_days", consciousness: "consult.consciousness",
    signs: "consult.signs",
  };

  function fieldLabel(field) {
    if (field === "age") return t(AGE_UNITS[ageUnit.value].label);
    if (FIELD_LABELS[field]) return t(FIELD_LABELS[field]);
    const [group, key] = field.split(".");
    if (group === "symptoms" && symptomsByKey[key]) return pick(symptomsByKey[key].label);
    if (group === "vitals" && vitalsByKey[key]) return pick(vitalsByKey[key].label);
    return field;
  }

  function fieldContainer(field) {
    if (!field) return null;
    const name = field.replace(/\[\d+\]$/, ""); // «signs[2]» is shown beside the signs checklist
    return Array.from(form.querySelectorAll("[data-field]")).find((node) => node.dataset.field === name) || null;
  }

  function clearErrors() {
    errorShown = false;
    showWeightCheck(null);
    formError.hidden = true;
    resultMessage.hidden = true;
    form.querySelectorAll(".field-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
    form.querySelectorAll('[aria-invalid="true"]').forEach((i) => i.removeAttribute("aria-invalid"));
  }

  function showFieldError(field, message) {
    errorShown = true;
    const container = fieldContainer(field);
    const target = container && container.querySelector(":scope > .field-error");
    // The contract names the JSON field («vitals.spo2»); the doctor reads the label they typed into.
    const label = field ? fieldLabel(field) : null;
    const text = label ? message.split(`«${field}»`).join(`«${label}»`).split(`'${field}'`).join(`'${label}'`)
      : message;
    if (target) {
      target.textContent = text;
      target.hidden = false;
      const input = container.querySelector("input, select");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        const row = container.closest(".symptom");
        if (row) { row.hidden = false; row.closest(".system").hidden = false; }
        input.focus({ preventScroll: true });
        container.scrollIntoView({ block: "center" });
      }
    } else {
      formError.textContent = text;
      formError.hidden = false;
      formError.scrollIntoView({ block: "center" });
    }
    showMessage(t("error.check_field", { message: text }));
  }

  function showMessage(text, link) {
    resultMessage.replaceChildren(el("span", null, text));
    if (link) {
      resultMessage.append(" ");
      const a = el("a", null, link.text);
      a.href = link.href;
      resultMessage.append(a);
    }
    resultMessage.hidden = false;
    placeholder.hidden = true;
    if (narrow.matches && formError.hidden && !form.querySelector('[aria-invalid="true"]')) {
      resultMessage.scrollIntoView({ block: "center" });
    }
  }

  /* --- the request ---------------------------------------------------------------------------------------------- */

  function numberFrom(input, field, problems) {
    if (input.validity.badInput) { problems.push(field); return undefined; }
    if (input.value.trim() === "") return undefined;
    return Number(input.value);
  }

  function collect() {
    const problems = [];
    const request = {};
    let age = null;
    const typed = numberFrom(ageInput, "age", problems);
    if (typed !== undefined) {
      const unit = AGE_UNITS[ageUnit.value];
      age = { value: typed, unit: ageUnit.value };
      request.age = typed / unit.perYear;
      const high = contract.age_years[1] * unit.perYear;
      // In years the contract's own message says it; in months or days it would speak of years the doctor did
      // not type, so the page says it in the unit on screen.
      if (unit.perYear !== 1 && (typed < 0 || typed > high)) {
        problems.push({ field: "age", message: t("error.age_range", { low: 0, high: fmt(high), unit: t(unit.unit) }) });
      }
    }
    const sex = form.querySelector('input[name="sex"]:checked');
    if (sex) request.sex = sex.value;
    const duration = numberFrom($("duration_days"), "duration_days", problems);
    if (duration !== undefined) request.duration_days = duration;
    request.symptoms = {};
    symptomInputs.forEach((input) => {
      const value = numberFrom(input, `symptoms.${input.dataset.key}`, problems);
      if (value !== undefined) request.symptoms[input.dataset.key] = value;
    });
    request.vitals = {};
    form.querySelectorAll(".vital input").forEach((input) => {
      const value = numberFrom(input, `vitals.${input.dataset.key}`, problems);
      if (value !== undefined) request.vitals[input.dataset.key] = value;
    });
    if (!pregnancyBox.hidden && pregnancyStatus.value) {
      const pregnancy = { status: pregnancyStatus.value };
      if (pregnancy.status === "pregnant") {
        const weeks = numberFrom($("pregnancy-weeks"), "pregnancy.weeks", problems);
        if (weeks !== undefined) pregnancy.weeks = weeks;
      } else if (pregnancy.status === "postpartum") {
        const days = numberFrom($("pregnancy-days"), "pregnancy.days_since_delivery", problems);
        if (days !== undefined) pregnancy.days_since_delivery = days;
      }
      request.pregnancy = pregnancy;
    }
    const consciousness = $("consciousness").value;
    if (consciousness) request.consciousness = consciousness;
    const signs = signInputs.filter((i) => i.checked).map((i) => i.value);
    if (signs.length) request.signs = signs;
    return { request, problems, age };
  }

  let busy = false;

  async function submit() {
    if (busy) return; // one question at a time (the button and Ctrl+Enter both ask)
    clearErrors();
    const { request, problems, age } = collect();
    if (problems.length) {
      // The browser could not read a number there (for example "3,,5"), or the age is out of range in months or
      // days: say so before asking the service.
      problems.forEach((p) => (typeof p === "string" ? showFieldError(p, t("error.not_a_number"))
        : showFieldError(p.field, p.message)));
      return;
    }
    lastRequest = request;
    lastAge = age;
    busy = true;
    diagnoseButton.disabled = true;
    diagnoseButton.textContent = t("consult.diagnosing");
    let reply;
    try {
      reply = await fetch(`/v1/predict?lang=${lang}`, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", [data.csrfHeader]: data.csrf },
        body: JSON.stringify(request),
      });
    } catch (err) {
      showMessage(t("error.unreachable"));
      return;
    } finally {
      busy = false;
      diagnoseButton.disabled = false;
      diagnoseButton.textContent = t("consult.diagnose");
    }
    let body = null;
    try { body = await reply.json(); } catch (err) { body = null; }
    const error = body && body.error;
    if (reply.ok && body) {
      lastResponse = body;
      renderResult(request, body);
      if (narrow.matches) $("result").scrollIntoView({ block: "start" });
      return;
    }
    if (reply.status === 422 && error) {
      showFieldError(error.field, error.message);
    } else if (reply.status === 401) {
      showMessage(t("error.session_ended"), { text: t("error.login_link"), href: "/app/login" });
    } else if (reply.status === 403) {
      showMessage(t("error.csrf"));
    } else if (reply.status === 429) {
      showMessage(t("error.rate_limited", { seconds: reply.headers.get("Retry-After") || "1" }));
    } else {
      showMessage(t("error.server", { status: reply.status, request_id: (error && error.request_id) || "-" }));
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { // the desktop's shortcut
      event.preventDefault();
      submit();
    }
  });
  $("clear").addEventListener("click", () => {
    form.reset();
    clearErrors();
    lastRequest = null;
    lastResponse = null;
    lastAge = null;
    awaited = null;
    updateAgeUnit();
    updatePregnancy();
    updateSignsCount();
    updateSignsForPatient();
    resultBody.hidden = true;
    placeholder.hidden = false;
    search.value = "";
    filterSymptoms();
    updateCount();
    $("age").focus();
  });

  /* --- the answer ----------------------------------------------------------------------------------------------- */

  function findingLabel(name, request) {
    if (symptomsByKey[name]) {
      const label = pick(symptomsByKey[name].label);
      const value = (request.symptoms || {})[name] || 0;
      return value ? `${label} ${fmt(value)}/10` : t("result.absent", { name: label });
    }
    if (vitalsByKey[name]) {
      const vital = vitalsByKey[name];
      const value = (request.vitals || {})[name];
      const label = pick(vital.label);
      return value != null ? `${label} ${fmt(value)} ${pick(vital.unit)}` : t("result.not_measured", { name: label });
    }
    if (signsByCode[name]) {
      const label = pick(signsByCode[name].label);
      return (request.signs || []).includes(name) ? t("result.sign_present", { name: label })
        : t("result.absent", { name: label });
    }
    if (name === "age") {
      if (lastAge && lastAge.unit !== "years") {
        return t(AGE_UNITS[lastAge.unit].result, { age: fmt(lastAge.value) });
      }
      return t("result.age", { age: fmt(request.age || 0) });
    }
    const pregnancy = request.pregnancy || {};
    if (name === "pregnancy_status") {
      return t("result.pregnancy", { status: t(`consult.pregnancy_${pregnancy.status || "none"}`) });
    }
    if (name === "pregnancy_weeks") {
      return pregnancy.weeks != null ? t("result.pregnancy_weeks", { weeks: fmt(pregnancy.weeks) })
        : t("result.not_measured", { name: t("consult.pregnancy_weeks") });
    }
    if (name === "postpartum_days") {
      return pregnancy.days_since_delivery != null
        ? t("result.postpartum_days", { days: fmt(pregnancy.days_since_delivery) })
        : t("result.not_measured", { name: t("consult.pregnancy_days") });
    }
    if (name === "pregnancy_pressure") {
      // features.pregnancy_pressure: pregnant from 20 weeks or postpartum, then the pressure's band
      const vitals = request.vitals || {};
      const late = pregnancy.status === "postpartum" || (pregnancy.status === "pregnant" && pregnancy.weeks >= 20);
      const sbp = vitals.systolic_bp, dbp = vitals.diastolic_bp;
      let value = t("result.pregnancy_pressure_na");
      if (late && sbp == null && dbp == null) value = t("result.pregnancy_pressure_unmeasured");
      else if (late && (sbp >= 160 || dbp >= 110)) value = "≥ 160/110";
      else if (late && (sbp >= 140 || dbp >= 90)) value = "≥ 140/90";
      else if (late) value = "< 140/90";
      return t("result.pregnancy_pressure", { value });
    }
    if (name === "consciousness") {
      return t("result.consciousness", {
        value: t(request.consciousness ? `consult.avpu_${request.consciousness.toLowerCase()}` : "consult.avpu_none"),
      });
    }
    if (name === "sex") return request.sex === "F" ? t("result.sex_f") : t("result.sex_m");
    if (name === "duration_days") {
      return request.duration_days != null ? t("result.duration", { days: fmt(request.duration_days) })
        : t("result.duration_unknown");
    }
    return name;
  }

  function renderChart(request, response) {
    const chart = $("chart");
    const which = $("why-target").value || "severity";
    const contributions = Object.entries(((response.explanation || {})[which] || {}).contributions || {});
    const bars = contributions.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, MAX_BARS);
    chart.replaceChildren();
    if (!bars.length) {
      chart.append(el("p", "hint", t("result.no_explanation")));
      chart.setAttribute("aria-label", t("result.no_explanation"));
      return;
    }
    const largest = Math.max(...bars.map(([, v]) => Math.abs(v))) || 1;
    const described = [];
    bars.forEach(([name, value]) => {
      const label = findingLabel(name, request);
      const signed = `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(2)}`;
      described.push(`${label}: ${signed}`);
      const row = el("div", "why-row");
      const track = el("div", "why-track");
      const bar = el("div", `why-bar ${value >= 0 ? "toward" : "away"}`);
      const width = (Math.abs(value) / largest) * 48; // percent of the track, from its centre line
      // Toward the target goes right of the centre line, away goes left: side and colour both carry it.
      bar.style.left = value >= 0 ? "50%" : `${50 - width}%`;
      bar.style.width = `${Math.max(width, 0.5)}%`;
      track.append(bar);
      row.append(el("span", "why-label", label), track, el("span", "why-value", signed));
      chart.append(row);
    });
    chart.setAttribute("aria-label", `${t("result.why")}: ${described.join("; ")}`);
  }

  function renderTriage(r) {
    // First on screen: the WHO ETAT level in colour AND in words, why, and the published scores.
    const triage = r.triage;
    $("triage").hidden = !triage;
    if (!triage) return;
    const banner = $("triage-banner");
    banner.className = `triage-banner triage-${triage.level}`;
    banner.dataset.level = triage.level;
    $("triage-level").textContent = pick(triage.label);
    const reasons = triage.reasons || [];
    $("triage-reasons-title").hidden = reasons.length === 0;
    $("triage-reasons").replaceChildren(...(reasons.length ? reasons.map((x) => el("li", null, pick(x.message)))
      : [el("li", "no-reasons", t("result.triage_no_reasons"))]));
    const scores = r.scores || {};
    const shown = [["news2", "result.news2"], ["qsofa", "result.qsofa"]].filter(([key, text]) => {
      const node = $(`score-${key}`);
      node.hidden = scores[key] == null; // null: outside the score's population, or an input is missing
      node.textContent = scores[key] == null ? "" : t(text, { score: scores[key] });
      return !node.hidden;
    });
    $("scores").hidden = shown.length === 0;
  }

  function levelWord(level) {
    return level === "EMERGENCIA" ? t("result.level_emergencia") : t("result.level_prioritario");
  }

  // A child's weight no child that age could have (10.4 typed as 40 at 14 months) is named under the weight box
  // for the doctor to check, beside the answer, never instead of it: WHO's implausible weight-for-age (z below -6 or
  // above +5, under 5 years), on the bundle's own healthy weight by age, as the desktop app does
  // (app/core/plausibility.py).
  function interp(x, xs, ys) {
    if (x <= xs[0]) return ys[0];
    for (let i = 1; i < xs.length; i += 1) {
      if (x <= xs[i]) return ys[i - 1] + ((ys[i] - ys[i - 1]) * (x - xs[i - 1])) / (xs[i] - xs[i - 1]);
    }
    return ys[ys.length - 1];
  }

  function weightCheck(request) {
    const table = vocabulary.weight_check;
    const weight = request.vitals && request.vitals.weight_kg;
    if (!table || weight == null || request.age == null || request.age < 0 || request.age >= table.below_age) {
      return null;
    }
    const median = interp(request.age, table.ages, table.medians);
    const sd = interp(request.age, table.ages, table.sds);
    const z = (weight - median) / sd;
    if (z >= table.z_low && z <= table.z_high) return null;
    const number = (x, digits) => {
      const text = digits === null ? String(x) : x.toFixed(digits);
      return lang === "es" ? text.replace(".", ",") : text;
    };
    return t("check.weight", {
      value: number(weight, null), low: number(Math.max(0, median - 2 * sd), 1), high: number(median + 2 * sd, 1),
    });
  }

  function showWeightCheck(request) {
    const field = form.querySelector('[data-vital="weight_kg"]');
    if (!field) return;
    let note = field.querySelector(":scope > .check");
    if (!note) {
      note = el("p", "check");
      note.id = "weight-check";
      note.setAttribute("role", "status");
      field.append(note);
    }
    const text = request ? weightCheck(request) : null;
    note.textContent = text || "";
    note.hidden = !text;
  }

  function renderResult(request, r) {
    placeholder.hidden = true;
    resultBody.hidden = false;
    showWeightCheck(request);
    renderTriage(r);
    const banner = $("state-banner");
    banner.className = `banner state-${r.severity}`;
    banner.dataset.state = r.severity;
    // `confidence` is the state model's probability of ITS most likely state: when the triage raised the state (an
    // emergency, a rare-disease alert) the banner names that other state, so 99 % never reads as certainty of it.
    const probabilities = r.severity_probabilities || {};
    const modelState = Object.keys(probabilities).reduce(
      (best, s) => (best === null || probabilities[s] > probabilities[best] ? s : best), null) || r.severity;
    const confidence = Math.round(100 * r.confidence);
    banner.textContent = modelState === r.severity
      ? t("result.banner", { state: pick(r.severity_label), confidence })
      : t("result.banner_raised", {
        state: pick(r.severity_label), model_state: pick(stateLabels[modelState]), confidence,
      });

    const attention = $("attention");
    attention.hidden = !r.requires_immediate_attention;
    $("attention-title").textContent = `⚠ ${t("result.attention")}`;
    // The triage reasons are already on top; here only the other warning signs (those of a lower level), each
    // with its level in words.
    const reasons = new Set(((r.triage && r.triage.reasons) || []).map((x) => x.code));
    const others = (r.red_flags || []).filter((f) => !reasons.has(f.code));
    $("other-flags-title").hidden = others.length === 0;
    $("red-flags").replaceChildren(...others.map((f) => {
      const item = el("li");
      item.append(el("strong", null, `${levelWord(f.level)}: `), pick(f.message));
      return item;
    }));

    $("conditions").replaceChildren(...r.top_conditions.map((c) => {
      const percent = Math.round(100 * c.probability);
      const item = el("li", "condition");
      const name = el("span", "condition-name", `${pick(c.name)} `);
      name.append(el("span", "condition-code", `(${c.code})`));
      const bar = el("div", "bar");
      bar.setAttribute("role", "img");
      bar.setAttribute("aria-label", `${pick(c.name)}: ${percent} %`);
      const fill = el("div", "bar-fill");
      fill.style.width = `${Math.min(100, Math.max(0, 100 * c.probability))}%`;
      bar.append(fill, el("span", "bar-text", `${percent} %`));
      item.append(name, bar);
      return item;
    }));

    renderNextFindings(r);

    const rare = $("rare");
    const rareItems = (r.rare_diseases || []).slice(0, MAX_RARE);
    if (rareItems.length) {
      const list = el("ul", "rare-list");
      rareItems.forEach((d) => {
        const li = el("li", null, `${rareName(d.name)} (${d.orpha_code}) `);
        const matched = (d.matched_labels || d.matched_terms || []).map(pick).join(", ");
        li.append(el("span", "rare-terms", `— ${t("result.rare_matched", { terms: matched })}`));
        list.append(li);
      });
      rare.replaceChildren(list);
    } else {
      rare.replaceChildren(el("p", "hint", t("result.rare_none")));
    }

    const lines = (r.recommendations && (r.recommendations[lang] || r.recommendations.es)) || [];
    $("recommendations").replaceChildren(...lines.map((line) => el("li", null, line)));

    const select = $("why-target");
    const current = select.value || "severity";
    const top = r.top_conditions[0];
    select.replaceChildren(
      new Option(t("result.why_state", { state: pick(r.severity_label) }), "severity"),
      new Option(t("result.why_condition", { condition: top ? pick(top.name) : "" }), "condition"),
    );
    select.value = current;
    renderChart(request, r);
    $("model-line").textContent = t("result.model", { version: r.model.version, engine: r.engine });
  }

  /* --- "Si puede, mida / pregunte:": what to measure or ask next (issue 19) --------------------------------------- */

  // The input the doctor was sent to from the list: once it holds a value, the page asks again at once.
  let awaited = null;

  function nextInput(item) {
    if (item.kind === "vital" && vitalsByKey[item.finding]) return $(`v-${item.finding}`);
    if (item.kind === "symptom" && symptomsByKey[item.finding]) return $(`s-${item.finding}`);
    if (item.kind === "sign" && signsByCode[item.finding]) return $(`sign-${item.finding}`);
    if (item.kind === "pregnancy" && !pregnancyBox.hidden) return pregnancyStatus;
    return null; // a finding this page has no field for is not offered
  }

  function nextName(item) {
    if (item.kind === "vital") return pick(vitalsByKey[item.finding].label);
    if (item.kind === "symptom") return pick(symptomsByKey[item.finding].label);
    if (item.kind === "sign") return pick(signsByCode[item.finding].label);
    return t("result.next_pregnancy");
  }

  function goTo(input) {
    const row = input.closest(".symptom");
    if (row && (row.hidden || row.closest(".system").hidden)) { // filtered out: show the whole list again
      search.value = "";
      onlyEntered.checked = false;
      filterSymptoms();
    }
    awaited = input;
    input.scrollIntoView({ block: "center" });
    input.focus({ preventScroll: true });
    if (input.type === "number") input.select();
  }

  function given(input) {
    if (input.type === "checkbox") return input.checked;
    if (input.validity && input.validity.badInput) return false;
    return input.value.trim() !== "";
  }

  // At EMERGENCIA every "why" opens with the engine's "care first" sentence: said once, above the items.
  function sharedEmergencySentence(whys) {
    if (!whys.length) return null;
    const first = `${whys[0].split(". ")[0]}.`;
    if (!first.toLowerCase().includes("emergenc")) return null;
    return whys.every((why) => why.startsWith(first) && why.slice(first.length).trim()) ? first : null;
  }

  function renderNextFindings(r) {
    const items = (r.next_findings || []).map((item) => [item, nextInput(item)]).filter(([, input]) => input);
    const emergency = Boolean(r.triage && r.triage.level === "EMERGENCIA");
    let whys = items.map(([item]) => pick(item.why));
    const careFirst = emergency ? sharedEmergencySentence(whys) : null;
    if (careFirst) whys = whys.map((why) => why.slice(careFirst.length).trim());
    $("next-findings").hidden = items.length === 0;
    $("next-findings-note").hidden = !emergency;
    $("next-findings-note").textContent = careFirst ? `${careFirst} ${t("result.next_emergency_only")}`
      : t("result.next_emergency");
    $("next-findings-list").replaceChildren(...items.map(([item, input], i) => {
      const name = nextName(item);
      const li = el("li", "next");
      const button = el("button", "next-item", `${i + 1}. ${name}`);
      button.type = "button";
      button.dataset.finding = item.finding;
      button.dataset.kind = item.kind;
      button.setAttribute("aria-controls", input.id);
      button.title = t("result.next_go", { name });
      button.addEventListener("click", () => goTo(input));
      li.append(button, el("span", "next-why", whys[i]));
      return li;
    }));
  }

  form.addEventListener("change", (event) => {
    if (!awaited || event.target !== awaited || !given(awaited)) return;
    if (awaited === pregnancyStatus && ["pregnant", "postpartum"].includes(pregnancyStatus.value)) {
      goTo($(pregnancyStatus.value === "pregnant" ? "pregnancy-weeks" : "pregnancy-days")); // its number next
      return;
    }
    awaited = null;
    submit(); // as "Diagnosticar" does; the list follows the new answer
  });

  $("why-target").addEventListener("change", () => {
    if (lastResponse) renderChart(lastRequest, lastResponse);
  });

  filterSymptoms();
  updateCount();
  // The browser may restore a reloaded form's values: make what is shown agree with them.
  updateAgeUnit();
  updatePregnancy();
  updateSignsCount();
  updateSignsForPatient();
})();
