// French and English strings. The language is the browser's (French for any fr-*), unless the
// contributor chose one; elements name their string with data-i18n (text) or
// data-i18n-aria-label / data-i18n-placeholder (attributes).
const STRINGS = {
  en: {
    tagline: "Surveillance devices pinned by contributors",
    skip: "Skip to the map",
    map: "Map of devices",
    language: "Language",
    filters: "Kinds shown",
    account: "Account",
    close: "Close",
    pinDevice: "Pin a device",
    apiDocs: "API documentation",
    loading: "Loading devices…",
    devicesInView: "{count} device(s) in view",
    clustersHint: " ({clusters} cluster(s); select one to zoom in)",
    offlineDevices: "Offline: {count} device(s) kept on this phone",
    noKind: "No kind selected: tick at least one kind to see devices.",
    loadFailed: "Devices could not be loaded: {message}.",
    clusterTitle: "Cluster of {count} devices: {summary}",
    clusterDevices: "{count} devices at this spot",
    register: "Create an account",
    signIn: "Sign in",
    signOut: "Sign out",
    username: "Pseudonym",
    password: "Password (10 characters or more)",
    signedInAs: "Signed in as {username} ({role})",
    signInToPin: "Sign in (a pseudonym is enough) to pin devices.",
    signOutOffline: "Connect to the network to sign out: the token must be revoked on the server.",
    signOutEverywhere: "Sign out everywhere",
    signedOutEverywhere: "Signed out on every device, this one included.",
    changePassword: "Change the password",
    current_password: "Current password",
    new_password: "New password (10 characters or more)",
    passwordChanged: "Password changed: your other devices are signed out.",
    needsNetwork: "No network: this needs a connection. Try again once online.",
    withdrawn: "withdrawn",
    mergedInto: "merged into {id}, the same device pinned before",
    pinAgainIfThere: "A moderator refused this pin, for the reason above. If the device is there, pin it again with what was missing.",
    sessionEnded: "Your session has ended (expired, or signed out from another device): sign in again. Changes not sent yet stay on this phone until then.",
    myContributions: "My contributions",
    noContributions: "No pins yet.",
    kind: "Kind",
    direction: "Direction (°)",
    directions: "Directions",
    addDirection: "Add a direction",
    removeDirection: "Remove direction {n}",
    useCompass: "Use the compass for direction {n}",
    compassUnavailable: "No compass on this device: drag the cone handle on the map.",
    angle: "Field of view (°)",
    camera_type: "Camera type",
    mount: "Mount",
    height: "Height (m)",
    operator: "Operator",
    operator_type: "Operator type",
    zone: "Zone",
    surveillance: "Watches",
    status: "Status",
    notes: "Notes",
    source: "Source",
    accuracy_m: "GPS accuracy (m)",
    tags: "Tags",
    observed_at: "Observed",
    photo: "Photo",
    takePhoto: "Take or choose a photo",
    usePhotoPosition: "Use the photo's position",
    photoSending: "Sending the photo…",
    photoUploaded: "Photo ready.",
    photoQueued: "Photo kept on this phone; it will be sent with the pin.",
    save: "Save",
    cancel: "Cancel",
    locating: "Finding your position…",
    positionHint: "Drag the pin to the device's exact place. Accuracy: {accuracy} m.",
    noPosition: "No GPS position: the pin starts at the centre of the map; drag it.",
    pinAtCentre: "Move the pin to the centre of the map",
    saved: "Saved. It will be sent when the network allows.",
    sentCount: "{count} change(s) sent.",
    refusedCount: "{count} change(s) refused: open the outbox to resolve them.",
    pending: "{count} change(s) waiting to be sent",
    refused: "{count} change(s) refused: open to resolve",
    outbox: "Changes waiting on this phone",
    refusedBecause: "Refused: {detail}",
    waitingBecause: "Not sent yet: {detail}",
    sendWithoutPhoto: "Send it without the photo",
    applyOverNewVersion: "Apply my changes to the new version",
    yourChanges: "What you changed: {changes}",
    labelled: "{label}: {value}",
    position: "Position",
    listSeparator: "; ",
    reportWrongDetails: "Report these details as wrong",
    retry: "Try again",
    discard: "Discard",
    discardConfirm: "Discard this change for good?",
    discardDraft: "Leave this form? What you entered in it will be lost.",
    correctPin: "Correct this pin",
    zoomIn: "Zoom in",
    zoomOut: "Zoom out",
    devicesCredit: "Devices",
    draftPin: "The new pin: drag it onto the device",
    decisionRecorded: "Decision recorded; the rest of the queue follows.",
    duplicateTitle: "Already pinned?",
    duplicateText: "A device of the same kind is already pinned {distance} m away. Is it the one you saw?",
    confirmInstead: "It's this one: confirm it",
    insist: "Mine is another one: pin it",
    verification: "Verification",
    reviewStatus: "Review",
    lastConfirmed: "Last confirmed",
    history: "History",
    showHistory: "Show the history",
    stillThere: "Still there",
    notFound: "Not found",
    wrongDetails: "Wrong details",
    voteQueued: "Thank you: your answer is recorded.",
    voteKept: "Your answer is kept on this phone; it is sent when the network allows.",
    withdraw: "Withdraw my pin",
    withdrawConfirm: "Withdraw this pin? It leaves the map and the review queue.",
    voteRefused: "Your answer was not recorded: {detail}",
    edit: "Edit",
    photoAlt: "Photo {n} of this {kind}",
    photoOffline: "{alt} (offline)",
    moderation: "Review queue",
    queueEmpty: "No pin awaits review.",
    photosToReview: "Photos added to public pins",
    photoQueueEmpty: "No photo awaits review.",
    approvePhoto: "Publish the photo",
    rejectPhoto: "Delete the photo",
    approve: "Approve",
    reject: "Reject",
    reason: "Reason (shown to the author)",
    reasonNeeded: "Give a reason: the author reads it.",
    showOnMap: "Show on the map",
    chosenPhoto: "The photo chosen",
    usePhotoDay: "Seen on {day}, the photo's day",
    photoDayUsed: "Seen on {day}.",
    mergeInto: "Merge into {id}",
    candidates: "Possible duplicates",
    pendingPin: "Pending pin (not sent yet)",
    refusedPin: "Refused pin (see the outbox)",
    pendingEdit: "Changes not sent yet",
    sentFrom: "(it goes from {time})",
    replacedByVote: "Kept until the vote sent in its place is accepted.",
    pendingWithdraw: "Withdrawal not sent yet",
    refusedChange: "Change refused (see the outbox)",
    awaitingReviewPin: "awaiting review",
    rejectedPin: "rejected by a moderator",
    declaredToCheck: "Declared camera site: to check",
    declaredPartly: "Declared camera site: partly found",
    declaredFound: "{matched} of {declared} declared device(s) found within reach",
    declaredIn: "Listed in {dataset} (n° {id})",
    kinds: {
      camera: "camera", alpr: "licence-plate reader", facial_recognition: "facial recognition",
      microphone: "microphone", gunshot_detector: "gunshot detector", sensor: "sensor",
    },
  },
  fr: {
    tagline: "Dispositifs de surveillance signalés par les contributeurs",
    skip: "Aller à la carte",
    map: "Carte des dispositifs",
    language: "Langue",
    filters: "Types affichés",
    account: "Compte",
    close: "Fermer",
    pinDevice: "Signaler un dispositif",
    apiDocs: "Documentation de l'API",
    loading: "Chargement des dispositifs…",
    devicesInView: "{count} dispositif(s) visible(s)",
    clustersHint: " ({clusters} groupe(s) ; choisissez-en un pour zoomer)",
    offlineDevices: "Hors ligne : {count} dispositif(s) gardé(s) sur ce téléphone",
    noKind: "Aucun type choisi : cochez-en au moins un pour voir des dispositifs.",
    loadFailed: "Les dispositifs n'ont pas pu être chargés : {message}.",
    clusterTitle: "Groupe de {count} dispositifs : {summary}",
    clusterDevices: "{count} dispositifs à cet endroit",
    register: "Créer un compte",
    signIn: "Se connecter",
    signOut: "Se déconnecter",
    username: "Pseudonyme",
    password: "Mot de passe (10 caractères ou plus)",
    signedInAs: "Connecté en tant que {username} ({role})",
    signInToPin: "Connectez-vous (un pseudonyme suffit) pour signaler des dispositifs.",
    signOutOffline: "Connectez-vous au réseau pour vous déconnecter : le jeton doit être révoqué sur le serveur.",
    signOutEverywhere: "Se déconnecter partout",
    signedOutEverywhere: "Déconnecté de tous les appareils, celui-ci compris.",
    changePassword: "Changer le mot de passe",
    current_password: "Mot de passe actuel",
    new_password: "Nouveau mot de passe (10 caractères ou plus)",
    passwordChanged: "Mot de passe changé : vos autres appareils sont déconnectés.",
    needsNetwork: "Pas de réseau : il en faut pour cela. Réessayez une fois connecté.",
    withdrawn: "retiré",
    mergedInto: "fusionné avec {id}, le même dispositif signalé avant",
    pinAgainIfThere: "Un modérateur a refusé ce signalement, pour la raison ci-dessus. Si le dispositif est bien là, signalez-le de nouveau avec ce qui manquait.",
    sessionEnded: "Votre session a pris fin (expirée, ou fermée depuis un autre appareil) : reconnectez-vous. Les modifications pas encore envoyées restent sur ce téléphone jusque-là.",
    myContributions: "Mes contributions",
    noContributions: "Aucun signalement pour l'instant.",
    kind: "Type",
    direction: "Direction (°)",
    directions: "Directions",
    addDirection: "Ajouter une direction",
    removeDirection: "Retirer la direction {n}",
    useCompass: "Prendre la boussole pour la direction {n}",
    compassUnavailable: "Pas de boussole sur cet appareil : faites glisser la poignée du cône sur la carte.",
    angle: "Champ de vision (°)",
    camera_type: "Type de caméra",
    mount: "Support",
    height: "Hauteur (m)",
    operator: "Exploitant",
    operator_type: "Type d'exploitant",
    zone: "Zone",
    surveillance: "Surveille",
    status: "État",
    notes: "Notes",
    source: "Source",
    accuracy_m: "Précision GPS (m)",
    tags: "Étiquettes",
    observed_at: "Observé le",
    photo: "Photo",
    takePhoto: "Prendre ou choisir une photo",
    usePhotoPosition: "Utiliser la position de la photo",
    photoSending: "Envoi de la photo…",
    photoUploaded: "Photo prête.",
    photoQueued: "Photo gardée sur ce téléphone ; elle partira avec le signalement.",
    save: "Enregistrer",
    cancel: "Annuler",
    locating: "Recherche de votre position…",
    positionHint: "Faites glisser l'épingle à l'endroit exact. Précision : {accuracy} m.",
    noPosition: "Pas de position GPS : l'épingle part du centre de la carte ; faites-la glisser.",
    pinAtCentre: "Placer l'épingle au centre de la carte",
    saved: "Enregistré. L'envoi se fera dès que le réseau le permet.",
    sentCount: "{count} modification(s) envoyée(s).",
    refusedCount: "{count} modification(s) refusée(s) : ouvrez la boîte d'envoi pour les résoudre.",
    pending: "{count} modification(s) en attente d'envoi",
    refused: "{count} modification(s) refusée(s) : ouvrir pour résoudre",
    outbox: "Modifications en attente sur ce téléphone",
    refusedBecause: "Refusé : {detail}",
    waitingBecause: "Pas encore envoyé : {detail}",
    sendWithoutPhoto: "L'envoyer sans la photo",
    applyOverNewVersion: "Appliquer mes modifications à la nouvelle version",
    yourChanges: "Ce que vous aviez modifié : {changes}",
    labelled: "{label} : {value}",
    position: "Position",
    listSeparator: " ; ",
    reportWrongDetails: "Signaler ces détails comme faux",
    retry: "Réessayer",
    discard: "Abandonner",
    discardConfirm: "Abandonner définitivement cette modification ?",
    discardDraft: "Quitter ce formulaire ? Ce que vous y avez saisi sera perdu.",
    correctPin: "Corriger ce signalement",
    zoomIn: "Zoomer",
    zoomOut: "Dézoomer",
    devicesCredit: "Dispositifs",
    draftPin: "Le nouveau signalement : faites-le glisser sur le dispositif",
    decisionRecorded: "Décision enregistrée ; la suite de la file est ci-dessous.",
    duplicateTitle: "Déjà signalé ?",
    duplicateText: "Un dispositif du même type est déjà signalé à {distance} m. Est-ce celui que vous avez vu ?",
    confirmInstead: "C'est celui-ci : le confirmer",
    insist: "Le mien est un autre : le signaler",
    verification: "Vérification",
    reviewStatus: "Relecture",
    lastConfirmed: "Dernière confirmation",
    history: "Historique",
    showHistory: "Voir l'historique",
    stillThere: "Toujours là",
    notFound: "Introuvable",
    wrongDetails: "Détails faux",
    voteQueued: "Merci : votre réponse est enregistrée.",
    voteKept: "Votre réponse est gardée sur ce téléphone ; elle partira dès que le réseau le permettra.",
    withdraw: "Retirer mon signalement",
    withdrawConfirm: "Retirer ce signalement ? Il quitte la carte et la file de relecture.",
    voteRefused: "Votre réponse n'a pas été enregistrée : {detail}",
    edit: "Modifier",
    photoAlt: "Photo {n} de ce dispositif ({kind})",
    photoOffline: "{alt} (hors ligne)",
    moderation: "File de relecture",
    queueEmpty: "Aucun signalement n'attend de relecture.",
    photosToReview: "Photos ajoutées à des signalements publics",
    photoQueueEmpty: "Aucune photo n'attend de relecture.",
    approvePhoto: "Publier la photo",
    rejectPhoto: "Supprimer la photo",
    approve: "Approuver",
    reject: "Refuser",
    reason: "Motif (montré à l'auteur)",
    reasonNeeded: "Donnez un motif : l'auteur le lira.",
    showOnMap: "Voir sur la carte",
    chosenPhoto: "La photo choisie",
    usePhotoDay: "Vu le {day}, jour de la photo",
    photoDayUsed: "Vu le {day}.",
    mergeInto: "Fusionner dans {id}",
    candidates: "Doublons possibles",
    pendingPin: "Signalement en attente (pas encore envoyé)",
    refusedPin: "Signalement refusé (voir la boîte d'envoi)",
    pendingEdit: "Modifications pas encore envoyées",
    sentFrom: "(envoi à partir de {time})",
    replacedByVote: "Gardé jusqu'à ce que l'avis envoyé à sa place soit accepté.",
    pendingWithdraw: "Retrait pas encore envoyé",
    refusedChange: "Modification refusée (voir la boîte d'envoi)",
    awaitingReviewPin: "en attente de relecture",
    rejectedPin: "refusé par la modération",
    declaredToCheck: "Site de caméras déclaré : à vérifier",
    declaredPartly: "Site de caméras déclaré : en partie trouvé",
    declaredFound: "{matched} sur {declared} dispositif(s) déclaré(s) trouvé(s) à proximité",
    declaredIn: "Liste {dataset} (n° {id})",
    kinds: {
      camera: "caméra", alpr: "lecteur de plaques", facial_recognition: "reconnaissance faciale",
      microphone: "micro", gunshot_detector: "détecteur de coups de feu", sensor: "capteur",
    },
    // The server's refusals (problem+json), by the last part of their type: its own words
    // are English. {field}: what the refusal is about, when it says.
    problems: {
      "bad-request": "Demande refusée par le serveur{field}.",
      "validation-failed": "Valeur refusée{field}.",
      "invalid-input": "Valeur refusée{field}.",
      "invalid-input/username": "Pseudonyme refusé : de 3 à 32 lettres sans accent, chiffres, points, tirets ou soulignés.",
      "invalid-input/password": "Mot de passe refusé : 10 caractères au moins, difficile à deviner (ni mot de passe courant, ni suite de touches, ni votre pseudonyme). Ajoutez un mot ou deux.",
      "invalid-input/email": "Adresse e-mail refusée : vérifiez-la, ou laissez le champ vide.",
      "validation-failed/current_password": "Le mot de passe actuel est incorrect.",
      "validation-failed/new_password": "Nouveau mot de passe refusé : difficile à deviner, s'il vous plaît (ni mot de passe courant, ni suite de touches, ni votre pseudonyme). Ajoutez un mot ou deux.",
      "invalid-input/new_password": "Nouveau mot de passe refusé : 10 caractères au moins.",
      "unprocessable-image": "Cette photo n'a pas pu être lue (fichier abîmé, animé ou trop grand) : choisissez-en une autre.",
      "conflict/verdict": "Vous avez déjà donné votre avis sur ce dispositif récemment : vous pourrez le refaire plus tard.",
      "not-found": "Introuvable : ce dispositif n'existe pas ou plus.",
      gone: "Ce dispositif a été supprimé.",
      conflict: "En conflit avec ce qui est déjà enregistré{field}.",
      "conflict/username": "Ce pseudonyme est déjà pris.",
      "precondition-failed": "Le dispositif a changé entre-temps : vérifiez-le, puis modifiez-le à nouveau.",
      "precondition-required": "Le dispositif a changé entre-temps : vérifiez-le, puis modifiez-le à nouveau.",
      "unsupported-media-type": "Ce format de fichier n'est pas accepté : envoyez une photo (JPEG, PNG, WebP ou HEIC).",
      "payload-too-large": "Fichier trop lourd.",
      "service-unavailable": "Le serveur est momentanément indisponible : réessayez un peu plus tard.",
      "insufficient-storage": "Le serveur n'a plus de place pour les photos : réessayez plus tard.",
      unauthorized: "Pseudonyme ou mot de passe incorrect, ou session expirée.",
      forbidden: "Ce compte n'a pas le droit de faire cela.",
      "too-many-requests": "Trop de demandes : patientez un moment avant de réessayer.",
      "too-many-requests/file": "Trop de photos rattachées à aucun signalement : rattachez-les ou supprimez-les avant d'en envoyer d'autres.",
      other: "Refusé par le serveur (erreur {status}).",
      field: " (« {label} »)",
      // After a sentence that does not say why: the server's reason, in its words.
      detail: " Le serveur précise (en anglais) : « {detail} »",
    },
  },
};
// The vocabulary's values in French (English shows them as they are, underscores as spaces).
const FRENCH_VALUES = {
  fixed: "fixe", dome: "dôme", panning: "orientable", wall: "mur", pole: "mât", ceiling: "plafond",
  street_lamp: "lampadaire", other: "autre", public: "public", private: "privé", unknown: "inconnu",
  town: "ville", traffic: "circulation", parking: "parking", shop: "commerce", transit: "transports",
  building: "bâtiment", outdoor: "extérieur", indoor: "intérieur", active: "actif", planned: "prévu",
  removed: "retiré", pending: "en attente", approved: "approuvé", rejected: "refusé",
  reported: "signalé", confirmed: "confirmé", disputed: "contesté",
  still_there: "toujours là", not_found: "introuvable", wrong_details: "détails faux",
  create: "création", update: "modification", delete: "suppression", review: "relecture", merge: "fusion",
  revert: "retour en arrière",
  contributor: "contributeur·rice", moderator: "modérateur·rice", admin: "administrateur·rice",
};

export const LANGUAGES = Object.keys(STRINGS);
const CHOSEN_KEY = "vigie-language";

function initialLanguage() {
  const chosen = localStorage.getItem(CHOSEN_KEY);
  if (LANGUAGES.includes(chosen)) return chosen;
  return (navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en";
}

let language = initialLanguage();
const listeners = [];

export const currentLanguage = () => language;

export function t(key, values = {}) {
  const text = STRINGS[language][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

export const valueLabel = (value) =>
  (language === "fr" && FRENCH_VALUES[value]) || String(value).replaceAll("_", " ");

export const kindLabel = (kind) => STRINGS[language].kinds[kind] || kind.replaceAll("_", " ");

// What the server said when it refused (a problem+json object): its own words in English, a
// sentence of the chosen language otherwise, naming the field it refused.
export function problemText(problem) {
  const sentences = STRINGS[language].problems;
  const fallback = problem?.detail || problem?.title || String(problem?.status ?? "");
  if (!sentences || !problem) return fallback;
  const slug = String(problem.type || "").split("/").pop();
  // The fields it names (errors[].field, dotted paths), by the app's labels where it has them.
  const fields = [...new Set((problem.errors || []).map((error) => String(error.field ?? "").split(".").pop()).filter(Boolean))];
  const labels = fields.map((field) => (typeof STRINGS[language][field] === "string" ? STRINGS[language][field] : field));
  const specific = sentences[`${slug}/${fields[0]}`];
  const sentence = specific || sentences[slug] || sentences.other;
  const reason = !specific && GENERAL_SENTENCES.has(slug in sentences ? slug : "other") && problem.detail;
  return sentence
    .replace("{field}", labels.length ? sentences.field.replace("{label}", labels.join(" », « ")) : "")
    .replace("{status}", String(problem.status ?? "")) + (reason ? sentences.detail.replace("{detail}", problem.detail) : "");
}
// The sentences that say what was refused but not why.
const GENERAL_SENTENCES = new Set(["bad-request", "validation-failed", "invalid-input", "conflict", "other"]);

// An error to show: a refusal of the server (an ApiError, which carries its problem) as
// problemText words it, no network in the chosen language (the browser's own words are
// English: "Failed to fetch"), any other (a bug) by its message.
export function errorText(error) {
  if (error?.name === "OfflineError") return t("needsNetwork");
  return error?.problem && STRINGS[language].problems ? problemText({ status: error.status, ...error.problem }) : error.message;
}

export function translatePage(root = document) {
  document.documentElement.lang = language;
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-aria-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
  }
}

export function setLanguage(chosen) {
  language = chosen;
  localStorage.setItem(CHOSEN_KEY, chosen);
  translatePage();
  for (const listener of listeners) listener(chosen);
}

export const onLanguageChange = (listener) => listeners.push(listener);
