// French and English strings. The language is the browser's (French for any fr-*), unless the
// contributor chose one; elements name their string with data-i18n (text) or
// data-i18n-aria-label (their label).
const STRINGS = {
  en: {
    tagline: "Surveillance devices pinned by contributors",
    pageTitle: "Vigie — map of urban surveillance",
    pageDescription: "Vigie: an open participatory map of urban surveillance devices.",
    skip: "Skip to the map",
    map: "Map of devices",
    language: "Language",
    filters: "Kinds shown",
    filtersSome: "Kinds shown: {shown} of {all}",
    account: "Account",
    menu: "Menu",
    close: "Close",
    pinDevice: "Pin a device",
    apiDocs: "API documentation",
    loading: "Loading devices…",
    devicesInView: { one: "{count} device in view", other: "{count} devices in view" },
    clustersHint: { one: " ({count} cluster; select it to zoom in)", other: " ({count} clusters; select one to zoom in)" },
    clustersHintChoose: {
      one: " ({count} group of devices at one spot; select it to choose among them)",
      other: " ({count} groups of devices at one spot; select one to choose among them)",
    },
    offlineDevices: { one: "Offline: {count} device kept on this phone", other: "Offline: {count} devices kept on this phone" },
    unsentInView: { one: " and {count} pin of yours not sent yet", other: " and {count} pins of yours not sent yet" },
    noKind: "No kind selected: tick at least one kind to see devices.",
    loadFailed: "Devices could not be loaded: {message}.",
    clusterTitle: "Cluster of {count} devices: {summary}",
    clusterDevices: "{count} devices at this spot",
    clusterChanges: " ({count} with changes not sent yet)",
    clusterNotKept: { one: "{count} of them is not kept on this phone: it shows once online.", other: "{count} of them are not kept on this phone: they show once online." },
    pinnedOn: "pinned on {day}",
    madeBy: "By {name}, {day}",
    madeByGone: "By a deleted account, {day}",
    register: "Create an account",
    signIn: "Sign in",
    signOut: "Sign out",
    username: "Pseudonym",
    newUsername: "Pseudonym (3 to 32 letters without accents, digits, dots, dashes or underscores; one letter or digit at least)",
    password: "Password (10 characters or more)",
    signedInAs: "Signed in as {username} ({role})",
    signInToPin: "Sign in (a pseudonym is enough) to pin devices.",
    signOutOffline: "Connect to the network to sign out: the token must be revoked on the server.",
    signOutHereOnly: "Sign out of this phone only",
    signedOutHereOnly: "Signed out of this phone. The session stays valid on the server until it expires, or until you sign out everywhere from another device.",
    unsentAtSignOut: {
      one: "{count} change of this account is not sent yet. Kept, it stays on this phone, hidden from other accounts, and goes when you sign in again; anyone holding the phone could read it.",
      other: "{count} changes of this account are not sent yet. Kept, they stay on this phone, hidden from other accounts, and go when you sign in again; anyone holding the phone could read them.",
    },
    refusedAtSignOut: {
      one: "{count} change of this account was refused by the server. Kept, it stays on this phone, hidden from other accounts, until you resolve it from the outbox once signed in again; anyone holding the phone could read it.",
      other: "{count} changes of this account were refused by the server. Kept, they stay on this phone, hidden from other accounts, until you resolve them from the outbox once signed in again; anyone holding the phone could read them.",
    },
    keepUnsent: "Keep them and sign out",
    discardUnsent: "Discard them and sign out",
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
    yourPhotos: "Your photos",
    yourPhotoAlt: "Your photo {n}, sent on {day}",
    photoPin: "Pin of photo {n}: {kind}",
    kind: "Kind",
    direction: "Direction (°)",
    directionNumbered: "Direction {n} (°)",
    directions: "Directions",
    addDirection: "Add a direction",
    removeDirection: "Remove direction {n}",
    useCompass: "Use the compass for direction {n}",
    compassUnavailable: "No compass on this device: type the direction in degrees, or drag the cone handle on the map.",
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
    removePhoto: "Remove this photo",
    photoRemoved: "Photo removed: the pin goes without it.",
    photoQueued: "Photo kept on this phone; it will be sent with the pin.",
    photoUnreadable: "This photo cannot be read on this phone, so it cannot be kept here without what its file says of you (where, when and with what it was taken): it does not go with the pin. Choose another, or add it once online.",
    photoRefused: "This photo was not kept, and the pin will go without it: {detail}",
    save: "Save",
    cancel: "Cancel",
    locating: "Finding your position…",
    positionHint: "Drag the pin to the device's exact place, or move the map onto it and choose “{centre}”. Accuracy: {accuracy} m.",
    noPosition: "No GPS position: the pin starts at the centre of the map; drag it, or move the map onto the device and choose “{centre}”.",
    pinAtCentre: "Move the pin to the centre of the map",
    saved: "Saved. It will be sent when the network allows.",
    sentCount: { one: "{count} change sent.", other: "{count} changes sent." },
    refusedCount: { one: "{count} change refused: open the outbox to resolve it.", other: "{count} changes refused: open the outbox to resolve them." },
    pending: { one: "{count} change waiting to be sent", other: "{count} changes waiting to be sent" },
    refused: { one: "{count} change refused: open to resolve", other: "{count} changes refused: open to resolve" },
    outbox: "Changes waiting on this phone",
    refusedBecause: "Refused: {detail}",
    waitingBecause: "Not sent yet: {detail}",
    serverNotAnswering: "the server is not answering (error {status})",
    sendWithoutPhoto: "Send it without the photo",
    applyOverNewVersion: "Apply my changes to the new version",
    yourChanges: "What you changed: {changes}",
    labelled: "{label}: {value}",
    position: "Position",
    listSeparator: "; ",
    position2: "{lat}, {lon}",
    reportWrongDetails: "Report these details as wrong",
    retry: "Try again",
    discard: "Discard",
    discardConfirm: "Discard this change for good?",
    discardDraft: "Leave this form? What you entered in it will be lost.",
    correctPin: "Correct this pin",
    correctChange: "Correct this change",
    zoomIn: "Zoom in",
    zoomOut: "Zoom out",
    devicesCredit: "Devices",
    draftPin: "The new pin: drag it onto the device, or move the map onto the device and choose “{centre}”",
    decisionRecorded: "Decision recorded; the rest of the queue follows.",
    decidedMeanwhile: "Already decided meanwhile (by another moderator?): the queue below is as it now stands.",
    duplicateTitle: "Already pinned?",
    duplicateText: "A device of the same kind is already pinned {distance} m away. Is it the one you saw?",
    confirmInstead: "It's this one: confirm it",
    insist: "Mine is another one: pin it",
    insistEdit: "Mine is another one: save my change",
    yoursAlready: "You pinned this one already.",
    discardNewPin: "Discard this new pin",
    discardChange: "Discard my change",
    verification: "Verification",
    reviewStatus: "Review",
    lastConfirmed: "Last confirmed",
    history: "History",
    showHistory: "Show the history",
    hideHistory: "Hide the history",
    stillThere: "Still there",
    notFound: "Not found",
    wrongDetails: "Wrong details",
    whatIsWrong: "What is wrong? (the kind, where it points, its operator...)",
    sendVote: "Send",
    links: "Links",
    voteQueued: "Thank you: your answer is recorded.",
    voteKept: "Your answer is kept on this phone; it is sent when the network allows.",
    withdraw: "Withdraw my pin",
    withdrawConfirm: "Withdraw this pin? It leaves the map and the review queue.",
    voteRefused: "Your answer was not recorded: {detail}",
    edit: "Edit",
    photoAlt: "Photo {n} of this {kind}",
    photoOffline: "{alt} (offline)",
    deletePhoto: "Delete photo {n}",
    deletePhotoConfirm: "Delete this photo for good? It cannot be brought back.",
    photoDeleted: "Photo deleted.",
    moderation: "Review queue",
    queueEmpty: "No pin awaits review.",
    photosToReview: "Photos added to public pins",
    photoQueueEmpty: "No photo awaits review.",
    approvePhoto: "Publish the photo",
    rejectPhoto: "Delete the photo",
    approvePhotoConfirm: "Publish this photo? Anyone can then see it with the pin.",
    rejectPhotoConfirm: "Delete this photo for good?",
    approveConfirm: "Approve this pin? It goes on the public map.",
    approve: "Approve",
    reject: "Reject",
    reason: "Reason (shown to the author)",
    reasonNeeded: "Give a reason: the author reads it.",
    showOnMap: "Show on the map",
    chosenPhoto: "The photo chosen",
    fieldRequired: "Fill in this field.",
    atMost: "At most {max}.",
    atLeast: "At least {min}.",
    atLeastCharacters: { one: "At least {count} character.", other: "At least {count} characters." },
    atMostCharacters: { one: "At most {count} character.", other: "At most {count} characters." },
    badValue: "This value is not one this field takes.",
    photosKept: { one: "This pin keeps its photo: one chosen here is added to it.", other: "This pin keeps its {count} photos: one chosen here is added to them." },
    usePhotoDay: "Seen on {day}, the photo's day",
    photoDayUsed: "Seen on {day}.",
    mergeInto: "Merge into {id}",
    mergeConfirm: "Merge this pin into {id}? Its votes and photos move there; the merge can be undone from that device's history.",
    unmerge: "Undo the merge of {id}",
    otherDevice: "device {id}",
    unmergeConfirm: "Undo the merge of {id}? It becomes a device of its own again, with the votes and photos it brought.",
    unmerged: "The merge was undone: {id} is a device of its own again.",
    candidates: "Possible duplicates",
    pendingPin: "Pending pin (not sent yet)",
    refusedPin: "Refused pin (see the outbox)",
    pendingEdit: "Changes not sent yet",
    sentFrom: "(it goes from {time})",
    photoSent: "photo {percent} % sent",
    replacedByVote: "Kept until the vote sent in its place is accepted.",
    pendingWithdraw: "Withdrawal not sent yet",
    refusedChange: "Change refused (see the outbox)",
    awaitingReviewPin: "awaiting review",
    rejectedPin: "rejected by a moderator",
    declaredToCheck: "Declared camera site: to check",
    declaredPartly: "Declared camera site: partly found",
    declaredFound: "Declared devices found within reach: {matched} of {declared}",
    declaredIn: "Listed in {dataset} (n° {id})",
    kinds: {
      camera: "camera", alpr: "licence-plate reader", facial_recognition: "facial recognition",
      microphone: "microphone", gunshot_detector: "gunshot detector", sensor: "sensor",
    },
    kindsPlural: {
      camera: "cameras", alpr: "licence-plate readers", facial_recognition: "facial recognition devices",
      microphone: "microphones", gunshot_detector: "gunshot detectors", sensor: "sensors",
    },
    deviceId: "Id",
    // The server's refusals its own words would say to an API client, not to a contributor.
    problems: {
      "conflict/geometry": "A device of the same kind is already pinned close by: see “Already pinned?”.",
      "conflict/username": "This pseudonym is taken. If it is yours, sign in with its password.",
      "conflict/verdict": "You already voted on this device on {voted_on}: you may vote on it again from {vote_again_on}.",
      merged: "This device was merged into another (the same one, pinned twice): change that one instead.",
      "forbidden/review_status": "A moderator has approved this pin since: only moderators change it now.",
    },
  },
  fr: {
    tagline: "Dispositifs de surveillance signalés par les contributeurs",
    pageTitle: "Vigie — carte de la surveillance urbaine",
    pageDescription: "Vigie : une carte participative et ouverte des dispositifs de surveillance urbaine.",
    skip: "Aller à la carte",
    map: "Carte des dispositifs",
    language: "Langue",
    filters: "Types affichés",
    filtersSome: "Types affichés : {shown} sur {all}",
    account: "Compte",
    menu: "Menu",
    close: "Fermer",
    pinDevice: "Signaler un dispositif",
    apiDocs: "Documentation de l'API",
    loading: "Chargement des dispositifs…",
    devicesInView: { one: "{count} dispositif visible", other: "{count} dispositifs visibles" },
    clustersHint: { one: " ({count} groupe ; choisissez-le pour zoomer)", other: " ({count} groupes ; choisissez-en un pour zoomer)" },
    clustersHintChoose: {
      one: " ({count} groupe de dispositifs au même endroit ; choisissez-le pour les voir)",
      other: " ({count} groupes de dispositifs au même endroit ; choisissez-en un pour les voir)",
    },
    offlineDevices: { one: "Hors ligne : {count} dispositif gardé sur ce téléphone", other: "Hors ligne : {count} dispositifs gardés sur ce téléphone" },
    unsentInView: { one: " et {count} signalement de votre part pas encore envoyé", other: " et {count} signalements de votre part pas encore envoyés" },
    noKind: "Aucun type choisi : cochez-en au moins un pour voir des dispositifs.",
    loadFailed: "Les dispositifs n'ont pas pu être chargés : {message}.",
    clusterTitle: "Groupe de {count} dispositifs : {summary}",
    clusterDevices: "{count} dispositifs à cet endroit",
    clusterChanges: " (dont {count} avec des modifications pas encore envoyées)",
    clusterNotKept: { one: "{count} d'entre eux n'est pas gardé sur ce téléphone : il s'affichera une fois en ligne.", other: "{count} d'entre eux ne sont pas gardés sur ce téléphone : ils s'afficheront une fois en ligne." },
    pinnedOn: "signalé le {day}",
    madeBy: "Par {name}, le {day}",
    madeByGone: "Par un compte supprimé, le {day}",
    register: "Créer un compte",
    signIn: "Se connecter",
    signOut: "Se déconnecter",
    username: "Pseudonyme",
    newUsername: "Pseudonyme (3 à 32 lettres sans accent, chiffres, points, tirets ou soulignés ; une lettre ou un chiffre au moins)",
    password: "Mot de passe (10 caractères ou plus)",
    signedInAs: "Connecté en tant que {username} ({role})",
    signInToPin: "Connectez-vous (un pseudonyme suffit) pour signaler des dispositifs.",
    signOutOffline: "Connectez-vous au réseau pour vous déconnecter : le jeton doit être révoqué sur le serveur.",
    signOutHereOnly: "Me déconnecter de ce téléphone seulement",
    signedOutHereOnly: "Déconnecté de ce téléphone. La session reste valable sur le serveur jusqu'à son expiration, ou jusqu'à une déconnexion partout depuis un autre appareil.",
    unsentAtSignOut: {
      one: "{count} modification de ce compte n'est pas encore envoyée. Gardée, elle reste sur ce téléphone, cachée des autres comptes, et part à votre prochaine connexion ; qui tient le téléphone pourrait la lire.",
      other: "{count} modifications de ce compte ne sont pas encore envoyées. Gardées, elles restent sur ce téléphone, cachées des autres comptes, et partent à votre prochaine connexion ; qui tient le téléphone pourrait les lire.",
    },
    refusedAtSignOut: {
      one: "{count} modification de ce compte a été refusée par le serveur. Gardée, elle reste sur ce téléphone, cachée des autres comptes, jusqu'à ce que vous la résolviez depuis la boîte d'envoi, une fois reconnecté ; qui tient le téléphone pourrait la lire.",
      other: "{count} modifications de ce compte ont été refusées par le serveur. Gardées, elles restent sur ce téléphone, cachées des autres comptes, jusqu'à ce que vous les résolviez depuis la boîte d'envoi, une fois reconnecté ; qui tient le téléphone pourrait les lire.",
    },
    keepUnsent: "Les garder et me déconnecter",
    discardUnsent: "Les supprimer et me déconnecter",
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
    yourPhotos: "Vos photos",
    yourPhotoAlt: "Votre photo {n}, envoyée le {day}",
    photoPin: "Épingle de la photo {n} : {kind}",
    kind: "Type",
    direction: "Direction (°)",
    directionNumbered: "Direction {n} (°)",
    directions: "Directions",
    addDirection: "Ajouter une direction",
    removeDirection: "Retirer la direction {n}",
    useCompass: "Utiliser la boussole pour la direction {n}",
    compassUnavailable: "Pas de boussole sur cet appareil : tapez la direction en degrés, ou faites glisser la poignée du cône sur la carte.",
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
    removePhoto: "Retirer cette photo",
    photoRemoved: "Photo retirée : le signalement partira sans elle.",
    photoQueued: "Photo gardée sur ce téléphone ; elle partira avec le signalement.",
    photoUnreadable: "Cette photo ne peut pas être lue sur ce téléphone : elle ne peut donc pas y être gardée sans ce que son fichier dit de vous (où, quand et avec quoi elle a été prise), et ne part pas avec le signalement. Choisissez-en une autre, ou ajoutez-la une fois en ligne.",
    photoRefused: "Cette photo n'a pas été gardée, et le signalement partira sans elle : {detail}",
    save: "Enregistrer",
    cancel: "Annuler",
    locating: "Recherche de votre position…",
    positionHint: "Faites glisser l'épingle à l'endroit exact, ou placez la carte sur le dispositif et choisissez « {centre} ». Précision : {accuracy} m.",
    noPosition: "Pas de position GPS : l'épingle part du centre de la carte ; faites-la glisser, ou placez la carte sur le dispositif et choisissez « {centre} ».",
    pinAtCentre: "Placer l'épingle au centre de la carte",
    saved: "Enregistré. L'envoi se fera dès que le réseau le permet.",
    sentCount: { one: "{count} modification envoyée.", other: "{count} modifications envoyées." },
    refusedCount: {
      one: "{count} modification refusée : ouvrez la boîte d'envoi pour la résoudre.",
      other: "{count} modifications refusées : ouvrez la boîte d'envoi pour les résoudre.",
    },
    pending: { one: "{count} modification en attente d'envoi", other: "{count} modifications en attente d'envoi" },
    refused: { one: "{count} modification refusée : ouvrir pour la résoudre", other: "{count} modifications refusées : ouvrir pour les résoudre" },
    outbox: "Modifications en attente sur ce téléphone",
    refusedBecause: "Refusé : {detail}",
    waitingBecause: "Pas encore envoyé : {detail}",
    serverNotAnswering: "le serveur ne répond pas (erreur {status})",
    sendWithoutPhoto: "L'envoyer sans la photo",
    applyOverNewVersion: "Appliquer mes modifications à la nouvelle version",
    yourChanges: "Ce que vous aviez modifié : {changes}",
    labelled: "{label} : {value}",
    position: "Position",
    listSeparator: " ; ",
    position2: "{lat} ; {lon}",
    reportWrongDetails: "Signaler ces détails comme faux",
    retry: "Réessayer",
    discard: "Abandonner",
    discardConfirm: "Abandonner définitivement cette modification ?",
    discardDraft: "Quitter ce formulaire ? Ce que vous y avez saisi sera perdu.",
    correctPin: "Corriger ce signalement",
    correctChange: "Corriger cette modification",
    zoomIn: "Zoomer",
    zoomOut: "Dézoomer",
    devicesCredit: "Dispositifs",
    draftPin: "La nouvelle épingle : faites-la glisser sur le dispositif, ou placez la carte sur le dispositif et choisissez « {centre} »",
    decisionRecorded: "Décision enregistrée ; la suite de la file est ci-dessous.",
    decidedMeanwhile: "Déjà tranché entre-temps (par un autre modérateur ?) : la file ci-dessous est à jour.",
    duplicateTitle: "Déjà signalé ?",
    duplicateText: "Un dispositif du même type est déjà signalé à {distance} m. Est-ce celui que vous avez vu ?",
    confirmInstead: "C'est celui-ci : le confirmer",
    insist: "Le mien est un autre : le signaler",
    insistEdit: "Le mien est un autre : enregistrer ma modification",
    yoursAlready: "Vous l'avez déjà signalé.",
    discardNewPin: "Abandonner ce nouveau signalement",
    discardChange: "Abandonner ma modification",
    verification: "Vérification",
    reviewStatus: "Relecture",
    lastConfirmed: "Dernière confirmation",
    history: "Historique",
    showHistory: "Voir l'historique",
    hideHistory: "Masquer l'historique",
    stillThere: "Toujours là",
    notFound: "Introuvable",
    wrongDetails: "Détails faux",
    whatIsWrong: "Qu'est-ce qui est faux ? (le type, où il pointe, l'exploitant...)",
    sendVote: "Envoyer",
    links: "Liens",
    voteQueued: "Merci : votre réponse est enregistrée.",
    voteKept: "Votre réponse est gardée sur ce téléphone ; elle partira dès que le réseau le permettra.",
    withdraw: "Retirer mon signalement",
    withdrawConfirm: "Retirer ce signalement ? Il quitte la carte et la file de relecture.",
    voteRefused: "Votre réponse n'a pas été enregistrée : {detail}",
    edit: "Modifier",
    photoAlt: "Photo {n} de ce dispositif ({kind})",
    photoOffline: "{alt} (hors ligne)",
    deletePhoto: "Supprimer la photo {n}",
    deletePhotoConfirm: "Supprimer cette photo pour de bon ? Elle ne pourra pas être rétablie.",
    photoDeleted: "Photo supprimée.",
    moderation: "File de relecture",
    queueEmpty: "Aucun signalement n'attend de relecture.",
    photosToReview: "Photos ajoutées à des signalements publics",
    photoQueueEmpty: "Aucune photo n'attend de relecture.",
    approvePhoto: "Publier la photo",
    rejectPhoto: "Supprimer la photo",
    approvePhotoConfirm: "Publier cette photo ? Tout le monde pourra la voir avec le signalement.",
    rejectPhotoConfirm: "Supprimer définitivement cette photo ?",
    approveConfirm: "Approuver ce signalement ? Il passe sur la carte publique.",
    approve: "Approuver",
    reject: "Refuser",
    reason: "Motif (montré à l'auteur)",
    reasonNeeded: "Donnez un motif : l'auteur le lira.",
    showOnMap: "Voir sur la carte",
    chosenPhoto: "La photo choisie",
    fieldRequired: "Remplissez ce champ.",
    atMost: "Au plus {max}.",
    atLeast: "Au moins {min}.",
    atLeastCharacters: { one: "Au moins {count} caractère.", other: "Au moins {count} caractères." },
    atMostCharacters: { one: "Au plus {count} caractère.", other: "Au plus {count} caractères." },
    badValue: "Ce champ ne prend pas cette valeur.",
    photosKept: { one: "Ce signalement garde sa photo : celle choisie ici s'y ajoute.", other: "Ce signalement garde ses {count} photos : celle choisie ici s'y ajoute." },
    usePhotoDay: "Vu le {day}, jour de la photo",
    photoDayUsed: "Vu le {day}.",
    mergeInto: "Fusionner dans {id}",
    mergeConfirm: "Fusionner ce signalement dans {id} ? Ses avis et photos y passent ; l'historique de ce dispositif permet d'annuler la fusion.",
    unmerge: "Annuler la fusion de {id}",
    otherDevice: "dispositif {id}",
    unmergeConfirm: "Annuler la fusion de {id} ? Il redevient un dispositif à part, avec les avis et photos qu'il avait apportés.",
    unmerged: "Fusion annulée : {id} est de nouveau un dispositif à part.",
    candidates: "Doublons possibles",
    pendingPin: "Signalement en attente (pas encore envoyé)",
    refusedPin: "Signalement refusé (voir la boîte d'envoi)",
    pendingEdit: "Modifications pas encore envoyées",
    sentFrom: "(envoi à partir de {time})",
    photoSent: "photo envoyée à {percent} %",
    replacedByVote: "Gardé jusqu'à ce que l'avis envoyé à sa place soit accepté.",
    pendingWithdraw: "Retrait pas encore envoyé",
    refusedChange: "Modification refusée (voir la boîte d'envoi)",
    awaitingReviewPin: "en attente de relecture",
    rejectedPin: "refusé par la modération",
    declaredToCheck: "Site de caméras déclaré : à vérifier",
    declaredPartly: "Site de caméras déclaré : en partie trouvé",
    declaredFound: "Dispositifs déclarés trouvés à proximité : {matched} sur {declared}",
    declaredIn: "Liste {dataset} (n° {id})",
    kinds: {
      camera: "caméra", alpr: "lecteur de plaques", facial_recognition: "reconnaissance faciale",
      microphone: "micro", gunshot_detector: "détecteur de coups de feu", sensor: "capteur",
    },
    kindsPlural: {
      camera: "caméras", alpr: "lecteurs de plaques", facial_recognition: "dispositifs de reconnaissance faciale",
      microphone: "micros", gunshot_detector: "détecteurs de coups de feu", sensor: "capteurs",
    },
    deviceId: "Identifiant",
    // The server's refusals (problem+json), by the last part of their type: its own words
    // are English. {field}: what the refusal is about, when it says; other {names}: members
    // of the problem (voted_on), days said as the language says them.
    problems: {
      "bad-request": "Demande refusée par le serveur{field}.",
      "validation-failed": "Valeur refusée{field}.",
      "invalid-input": "Valeur refusée{field}.",
      "invalid-input/username": "Pseudonyme refusé : de 3 à 32 lettres sans accent, chiffres, points, tirets ou soulignés, une lettre ou un chiffre au moins, et pas un nom qui se lirait comme celui du service ou de son équipe (admin, moderator, root…).",
      "invalid-input/password": "Mot de passe refusé : 10 caractères au moins, difficile à deviner (ni mot de passe courant, ni suite de touches, ni votre pseudonyme). Ajoutez un mot ou deux.",
      "invalid-input/email": "Adresse e-mail refusée : vérifiez-la, ou laissez le champ vide.",
      "validation-failed/current_password": "Le mot de passe actuel est incorrect.",
      "validation-failed/new_password": "Nouveau mot de passe refusé : difficile à deviner, s'il vous plaît (ni mot de passe courant, ni suite de touches, ni votre pseudonyme). Ajoutez un mot ou deux.",
      "invalid-input/new_password": "Nouveau mot de passe refusé : 10 caractères au moins.",
      "unprocessable-image": "Cette photo n'a pas pu être lue (fichier abîmé, animé ou trop grand) : choisissez-en une autre.",
      "conflict/geometry": "Un dispositif du même type est déjà signalé tout près : voyez « Déjà signalé ? ».",
      "forbidden/review_status": "Un modérateur a approuvé ce signalement depuis : seuls les modérateurs le modifient désormais.",
      "conflict/verdict": "Vous avez déjà donné votre avis sur ce dispositif le {voted_on} : vous pourrez le refaire à partir du {vote_again_on}.",
      "not-found": "Introuvable : ce dispositif n'existe pas ou plus.",
      gone: "Ce dispositif a été supprimé.",
      merged: "Ce dispositif a été fusionné avec un autre (le même, signalé deux fois) : modifiez plutôt celui-là.",
      conflict: "En conflit avec ce qui est déjà enregistré{field}.",
      "conflict/username": "Ce pseudonyme est déjà pris. S'il est le vôtre, connectez-vous avec son mot de passe.",
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
      // A 5xx of the service (a problem+json): an error on its side, not a refusal.
      failed: "Erreur du serveur (erreur {status}).",
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
  revert: "retour en arrière", unmerge: "fusion annulée",
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

// A string that counts something gives a form per plural category of the language
// ({ one, other }), chosen by values.count: French says "0 dispositif", English "0 devices".
export function t(key, values = {}) {
  const entry = STRINGS[language][key] ?? STRINGS.en[key] ?? key;
  const text = typeof entry === "string" ? entry : entry[new Intl.PluralRules(language).select(Number(values.count))] ?? entry.other;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

export const valueLabel = (value) =>
  (language === "fr" && FRENCH_VALUES[value]) || String(value).replaceAll("_", " ");

export const kindLabel = (kind) => STRINGS[language].kinds[kind] || kind.replaceAll("_", " ");

// COUNT devices of KIND: "2 caméras", "1 micro".
export function kindCount(kind, count) {
  const plural = new Intl.PluralRules(language).select(count) !== "one";
  return `${count} ${(plural && STRINGS[language].kindsPlural[kind]) || kindLabel(kind)}`;
}

// What the server said when it refused (a problem+json object): its own words in English
// (SAID, an error's message, or its detail) but for the few refusals whose words are for API
// clients, a sentence of the chosen language otherwise, naming the field it refused.
export function problemText(problem, said = null) {
  // A proxy's or a stopped server's answer, not the service's (no problem+json to word).
  if (!problem?.type && problem?.status >= 500) return t("serverNotAnswering", { status: problem.status });
  const sentences = STRINGS[language].problems;
  const fallback = said || problem?.detail || problem?.title || String(problem?.status ?? "");
  if (!sentences || !problem) return fallback;
  // A device gone into another (merged_into): said so, not as deleted.
  const slug = problem.merged_into ? "merged" : String(problem.type || "").split("/").pop();
  // The fields it names (errors[].field, dotted paths), by the app's labels where it has them.
  const fields = [...new Set((problem.errors || []).map((error) => String(error.field ?? "").split(".").pop()).filter(Boolean))];
  const labels = fields.map((field) => (typeof STRINGS[language][field] === "string" ? STRINGS[language][field] : field));
  const specific = sentences[`${slug}/${fields[0]}`];
  const sentence = specific || sentences[slug] || (problem.status >= 500 ? sentences.failed : sentences.other);
  // English words only a few refusals: the server's say the rest, each of its field errors
  // under the form's label rather than the API's name (Password, not password).
  if (!sentence) return fieldErrorsText(problem.errors) || fallback;
  const reason = !specific && GENERAL_SENTENCES.has(slug in sentences ? slug : "other") && problem.detail;
  return sentence
    .replace("{field}", () => (labels.length ? sentences.field.replace("{label}", labels.join(" », « ")) : ""))
    .replace("{status}", String(problem.status ?? ""))
    .replace(/\{(\w+)\}/g, (_, name) => memberText(problem[name]))
    + (reason ? sentences.detail.replace("{detail}", () => inServerWords(problem.detail)) : "");
}

// The server's own words (English) inside a sentence of another language, marked with
// Unicode's isolates (U+2068, U+2069), which element() (ui.js) shows in a <bdi lang="en">: a
// screen reader then says them in English. Plain text (a status line) shows nothing of them.
const inServerWords = (text) => `\u2068${text}\u2069`;

// The errors of fields a form labels (not those of the API alone, such as a vote's verdict).
function fieldErrorsText(errors = []) {
  const label = (field) => STRINGS[language][String(field).split(".").pop()];
  return errors.filter((error) => error.message && typeof label(error.field) === "string")
    .map(({ field, message }) => t("labelled", { label: label(field), value: message }))
    .join(" ");
}

// A member of a problem in a sentence: a day (YYYY-MM-DD) as the language writes it.
const memberText = (value) => (/^\d{4}-\d{2}-\d{2}$/.test(String(value)) ? dayText(value) : String(value ?? ""));

// A number as the language writes it (3.5, 3,5), with DIGITS decimals if given.
export function numberText(value, digits = null) {
  const decimals = digits === null ? { maximumFractionDigits: 7 } : { minimumFractionDigits: digits, maximumFractionDigits: digits };
  return new Intl.NumberFormat(language, { useGrouping: false, ...decimals }).format(value);
}

// A position (GeoJSON order) as latitude then longitude, in the language's numbers: the pair's
// separator is not its decimal comma.
export const positionText = ([lon, lat], digits = 5) => t("position2", { lat: numberText(lat, digits), lon: numberText(lon, digits) });

// A time of day as the phone's own variant of the chosen language writes it: 19:29 in British
// English, 7:29 PM in American (the language alone, "en", wrote the American way for all).
export function timeText(date) {
  const locale = navigator.languages?.find((tag) => tag.split("-")[0] === language) ?? language;
  return new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" }).format(date);
}

// A day (YYYY-MM-DD, or a time of the API, the start of its UTC day) as the language writes
// it: "6 décembre 2026", "December 6, 2026".
export function dayText(time) {
  const day = String(time).slice(0, 10);
  const text = new Intl.DateTimeFormat(language, { dateStyle: "long", timeZone: "UTC" }).format(new Date(`${day}T00:00:00Z`));
  // French writes the first of a month as an ordinal, 1er novembre, which Intl does not.
  return language === "fr" ? text.replace(/^1 /, "1er ") : text;
}
// The sentences that say what was refused but not why (a limit reached: which one, the
// server says, "New accounts may pin 20 devices an hour").
const GENERAL_SENTENCES = new Set(["bad-request", "validation-failed", "invalid-input", "conflict", "too-many-requests", "other"]);

// An error to show: a refusal of the server (an ApiError, which carries its problem) as
// problemText words it, no network in the chosen language (the browser's own words are
// English: "Failed to fetch"), any other (a bug) by its message.
export function errorText(error) {
  if (error?.name === "OfflineError") return t("needsNetwork");
  return error?.problem ? problemText({ status: error.status, ...error.problem }, error.message) : error.message;
}

export function translatePage(root = document) {
  document.documentElement.lang = language;
  document.title = t("pageTitle");
  document.querySelector?.('meta[name="description"]')?.setAttribute("content", t("pageDescription"));
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
