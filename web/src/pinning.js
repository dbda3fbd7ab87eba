// Pinning a device in a few taps, or editing one: the pin starts at the GPS position (with its
// accuracy circle) and is dragged to the exact place; the kind is chosen by its icon; each
// direction is set by dragging its cone's handle, typing it, or from the phone's compass; a
// photo is taken with the camera, and its GPS position offered. Saving puts the change in the
// outbox, which sends it now or when the network returns.
import L from "leaflet";
import { session } from "./accounts.js";
import { uploadPhoto } from "./api.js";
import { isTransient } from "./queue.js";
import { contentOf, forgetPhoto, handOverUpload } from "./operations.js";
import { dayText, errorText, kindLabel, t } from "./i18n.js";
import { CONE_HANDLE_M, bearing, coneLatLngs, keepInSight, kindIcon, offset, pointInSight, styleOf, uncoveredArea } from "./map.js";
import { choice, closeSheet, element, field, notice, openSheet } from "./ui.js";
import { CAMERA_KINDS, DEFAULTS, KINDS, VOCABULARY, visibleText } from "./vocabulary.js";

const PIN_ZOOM = 19;
const DEFAULT_ANGLE = 60;

function currentPosition() {
  return new Promise((resolve) => {
    if (!navigator.geolocation) return resolve(null);
    // A fresh fix (maximumAge 0): a cached one is where the phone was, up to the previous pin.
    navigator.geolocation.getCurrentPosition(resolve, () => resolve(null), { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });
  });
}

// The heading the phone points to, from the first compass reading: Safari gives it, others an
// absolute alpha (counter-clockwise from north). Browsers without a compass send readings of
// nulls, or none at all.
const COMPASS_WAIT_MS = 3000;

function compassHeading() {
  return new Promise((resolve, reject) => {
    const types = ["deviceorientationabsolute", "deviceorientation"];
    const stop = () => { for (const type of types) window.removeEventListener(type, read); };
    const timer = setTimeout(() => { stop(); reject(new Error(t("compassUnavailable"))); }, COMPASS_WAIT_MS);
    function read(event) {
      let heading = null;
      if (typeof event.webkitCompassHeading === "number") heading = event.webkitCompassHeading;
      else if (event.absolute && typeof event.alpha === "number") heading = 360 - event.alpha;
      if (heading === null) return;
      clearTimeout(timer);
      stop();
      resolve(Math.round(heading) % 360);
    }
    const ask = globalThis.DeviceOrientationEvent?.requestPermission;
    Promise.resolve(ask ? ask.call(DeviceOrientationEvent) : "granted").then((answer) => {
      if (answer !== "granted") throw new Error(t("compassUnavailable"));
      for (const type of types) window.addEventListener(type, read);
    }).catch((error) => { clearTimeout(timer); reject(error); });
  });
}

// DEVICE and ETAG: edit that device (ETAG null: edited offline, from the copy on the phone).
// QUEUED: correct a pin still in the outbox (not sent yet, or refused) before it goes;
// QUEUEDEDIT: an edit of DEVICE (shown as it will be once sent) still in the outbox, likewise.
// Otherwise pin a new one.
export async function startPinning({ mapApi, outbox, device = null, etag = null, queued = null, queuedEdit = null }) {
  const { map } = mapApi;
  const waiting = queued ?? queuedEdit;
  // The account that fills the form owns what it saves, even if the session ends meanwhile
  // (a token revoked elsewhere): it is sent once that account signs in again, by no other.
  const author = waiting?.owner ?? session()?.userId;
  const shown = device || queued?.feature;
  const props = shown?.properties || { kind: "camera" };
  const layers = L.layerGroup().addTo(map);
  const status = element("div", { "aria-live": "polite" });
  const directions = [...(props.direction || [])];
  let kind = props.kind;
  let accuracy = queued ? props.accuracy_m ?? null : null;
  let photo = { blob: waiting?.photo ?? null, id: waiting?.photoId ?? null };
  const firstPhoto = photo;
  const samePhoto = (a, b) => (a.blob ?? a.id) === (b.blob ?? b.id);

  let start;
  if (shown) {
    const [lon, lat] = shown.geometry.coordinates;
    start = L.latLng(lat, lon);
  } else {
    // The fix may take seconds: the sheet says so meanwhile (the form replaces it). Closed,
    // or replaced by another sheet meanwhile, it cancels the pin: the form must not come back
    // over what the contributor turned to.
    let cancelled = false;
    const locating = openSheet(t("pinDevice"), notice(t("locating")), { closed: () => { cancelled = true; } });
    if (!locating) return layers.remove();
    status.replaceChildren(notice(t("locating")));
    const position = await currentPosition();
    if (cancelled) return layers.remove();
    if (position) {
      start = L.latLng(position.coords.latitude, position.coords.longitude);
      accuracy = Math.round(position.coords.accuracy);
      layers.addLayer(L.circle(start, { radius: accuracy, color: "#0b57d0", weight: 1, fillOpacity: 0.1, interactive: false, className: "accuracy-circle" }));
      status.replaceChildren(notice(t("positionHint", { accuracy, centre: t("pinAtCentre") })));
    } else {
      start = map.getCenter();
      status.replaceChildren(notice(t("noPosition", { centre: t("pinAtCentre") })));
    }
  }
  map.setView(start, Math.max(map.getZoom(), PIN_ZOOM), { animate: false });
  const draftIcon = () => L.divIcon({ className: "", html: kindIcon(kind, "draft"), iconSize: [32, 32], iconAnchor: [16, 16] });
  // Dragged with a pointer; from the keyboard, the map moves under it and "pin at centre" puts
  // it there: not a button that Enter would do nothing with (keyboard: false).
  const marker = L.marker(start, { draggable: true, autoPan: true, keyboard: false, icon: draftIcon(), title: t("draftPin", { centre: t("pinAtCentre") }), alt: t("draftPin", { centre: t("pinAtCentre") }), zIndexOffset: 1000 }).addTo(layers);
  // Found by a screen reader, named as above (again whenever its icon is made anew).
  const nameDraft = () => {
    marker.getElement().setAttribute("role", "img");
    marker.getElement().setAttribute("aria-label", t("draftPin", { centre: t("pinAtCentre") }));
  };
  nameDraft();
  const cones = L.layerGroup().addTo(layers);
  // Empty while nobody measured it: an unknown field of view is sent as unknown (the cones are
  // drawn with DEFAULT_ANGLE meanwhile), not as a surveyed 60°.
  const angleInput = field(t("angle"), "input", { name: "angle", type: "number", min: 1, max: 360, value: props.angle ?? "" });
  const directionList = element("ol", { class: "directions" });

  function drawCones() {
    cones.clearLayers();
    const here = marker.getLatLng();
    const angle = Number(angleInput.control.value) || DEFAULT_ANGLE;
    directions.forEach((direction, index) => {
      cones.addLayer(L.polygon(coneLatLngs(here.lat, here.lng, direction, angle), { color: styleOf(kind).color, weight: 1, fillOpacity: 0.25, interactive: false, className: "draft-cone" }));
      // Dragged only: out of the tab order, where no key would turn it (the direction's field,
      // typed, is the keyboard's way, and turns the handle).
      const handle = L.marker(offset(here.lat, here.lng, direction, CONE_HANDLE_M), {
        draggable: true,
        keyboard: false,
        icon: L.divIcon({ className: "", html: `<span class="cone-handle" aria-hidden="true">${index + 1}</span>`, iconSize: [28, 28], iconAnchor: [14, 14] }),
        title: t("directionNumbered", { n: index + 1 }),
      });
      handle.on("drag", () => {
        directions[index] = bearing(marker.getLatLng(), handle.getLatLng());
        const input = directionList.children[index]?.querySelector("input");
        if (input) input.value = directions[index];
      });
      handle.on("dragend", drawCones);
      cones.addLayer(handle);
    });
  }

  function listDirections() {
    directionList.replaceChildren(...directions.map((direction, index) => {
      const n = index + 1;
      // Required: emptied, the field would read as 0, north, a direction nobody measured.
      const input = field(t("directionNumbered", { n }), "input", { type: "number", min: 0, max: 359, value: direction, name: `direction-${n}`, required: true });
      input.control.addEventListener("input", () => {
        const value = Number(input.control.value);
        if (input.control.value !== "" && Number.isInteger(value) && value >= 0 && value < 360) { directions[index] = value; drawCones(); }
      });
      const compass = element("button", { type: "button", class: "secondary" }, t("useCompass", { n }));
      compass.addEventListener("click", async () => {
        try {
          directions[index] = await compassHeading();
          input.control.value = directions[index];
          drawCones();
        } catch (error) {
          status.replaceChildren(notice(errorText(error), "error"));
        }
      });
      const remove = element("button", { type: "button", class: "secondary" }, t("removeDirection", { n }));
      remove.addEventListener("click", () => {
        directions.splice(index, 1);
        listDirections();
        drawCones();
        // The focus, which went with the button, goes to the direction now in its place (else
        // to "Add a direction"), not to the page's start.
        (directionList.querySelectorAll("input")[index] ?? addDirection).focus();
      });
      return element("li", {}, input.node, compass, remove);
    }));
    // A field of view is a direction's: typed without one, it would be dropped unsaid.
    angleInput.control.disabled = directions.length === 0;
  }

  marker.on("drag", drawCones);
  angleInput.control.addEventListener("input", drawCones);

  const kindPicker = element("fieldset", { class: "kind-picker" }, element("legend", {}, t("kind")),
    ...KINDS.map((name) => {
      const input = element("input", { type: "radio", name: "kind", value: name, id: `pick-${name}` });
      input.checked = name === kind;
      input.addEventListener("change", () => { kind = name; marker.setIcon(draftIcon()); nameDraft(); drawCones(); showCameraType(); });
      const icon = element("span", { "aria-hidden": "true" });
      icon.innerHTML = kindIcon(name); // a constant of map.js, not data
      return element("label", { for: `pick-${name}` }, input, icon, kindLabel(name));
    }));

  // Without dragging (keyboard, screen reader): move the map with its arrow keys, then this.
  const toCentre = element("button", { type: "button", class: "secondary" }, t("pinAtCentre"));
  toCentre.addEventListener("click", () => {
    marker.setLatLng(map.containerPointToLatLng(pointInSight(map)));
    drawCones();
  });

  const addDirection = element("button", { type: "button", class: "secondary" }, t("addDirection"));
  addDirection.addEventListener("click", (event) => {
    directions.push(directions.length ? (directions.at(-1) + 90) % 360 : 0);
    listDirections();
    drawCones();
    // From the keyboard (a click of no pointer: detail 0), the focus goes to the new direction,
    // to type it: left on the button, before which it stands, the degrees typed went nowhere
    // and the device was saved looking north. A tap leaves it, not to raise the keyboard over
    // the cone's handle.
    if (event.detail !== 0) return;
    const added = directionList.querySelectorAll("input")[directions.length - 1];
    added.focus();
    added.select();
  });

  // A field that always holds a value offers no "—", which the server would refuse.
  const selects = Object.fromEntries(Object.entries(VOCABULARY).map(([name, values]) => [
    name, choice(name, values, props[name] ?? DEFAULTS[name], { blank: !(name in DEFAULTS) })]));
  const showCameraType = () => { selects.camera_type.node.hidden = !CAMERA_KINDS.has(kind); };
  showCameraType();
  const height = field(t("height"), "input", { name: "height", type: "number", min: 0, max: 500, step: "any", value: props.height ?? "" });
  const operator = field(t("operator"), "input", { name: "operator", maxlength: 255, value: props.operator ?? "" });
  const notes = field(t("notes"), "textarea", { name: "notes", maxlength: 5000 });
  notes.control.value = props.notes ?? "";
  // No `capture`: a phone would open its camera only, and the photo taken earlier in the street
  // (whose position and day the form offers to use) could not be chosen.
  const photoInput = field(t("takePhoto"), "input", { type: "file", accept: "image/*", name: "photo" });
  const photoStatus = element("div", { "aria-live": "polite" });
  // The photo chosen, as the phone shows it (a format the browser cannot draw, such as HEIC
  // in Chromium, shows none); its object URL is let go once replaced or the form closed.
  const preview = element("img", { class: "photo-preview", alt: t("chosenPhoto"), hidden: true });
  preview.addEventListener("error", () => { preview.hidden = true; });
  const hidePreview = () => {
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.removeAttribute("src");
    preview.hidden = true;
  };
  const showPreview = (file) => {
    hidePreview();
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
  };
  let upload = null; // the AbortController of the photo being sent
  let uploading = null; // its answer to come: the photo's id
  let photoKey = waiting?.photoKey ?? null; // its Idempotency-Key, for the outbox to send it under
  let reportHandedOver = null; // once saved, where its progress goes
  if (photo.blob) showPreview(photo.blob); // a corrected pin's photo, still on the phone
  // A photo chosen by mistake (a personal one from the gallery) is taken out of the form here,
  // rather than only by giving the whole form up.
  const removePhoto = element("button", { type: "button", class: "secondary", hidden: true }, t("removePhoto"));
  const showRemovable = () => { removePhoto.hidden = !(photo.blob || photo.id); };
  showRemovable();

  // The day the device was seen: today, or the photo's if the contributor says so.
  const today = new Date().toISOString().slice(0, 10);
  let observedDay = queued ? props.observed_at.slice(0, 10) : today;
  // Whether that day is the photo's ("Use the photo's day"), kept with a pin in the outbox:
  // the photo removed, the pin is no longer dated by it.
  let dayOfPhoto = queued?.dayOfPhoto ?? false;

  // The photo the pin goes with so far (sent, kept for the outbox, or the corrected pin's),
  // which a photo refused in its place leaves as it was.
  let kept = { photo, photoKey, file: photo.blob ?? null };
  // The photos this form uploaded: those the pin does not go with (replaced, or the form given
  // up) are deleted from the server once it closes, rather than left there, attached to
  // nothing, until the cleanup (a personal photo picked by mistake in the gallery).
  const uploadedHere = new Set();
  photoInput.control.addEventListener("change", async () => {
    const [file] = photoInput.control.files;
    if (!file) return;
    showPreview(file);
    observedDay = today;
    dayOfPhoto = false;
    photo = { blob: file, id: null };
    showRemovable();
    // Another photo chosen meanwhile replaces the one being sent, which is given up.
    upload?.abort();
    const sent = (upload = new AbortController());
    photoKey = crypto.randomUUID();
    const sending = element("progress", { max: 1, value: 0, "aria-label": t("photoSending") });
    photoStatus.replaceChildren(element("p", { class: "notice info" }, t("photoSending"), " ", sending));
    try {
      const onProgress = (fraction) => {
        sending.value = fraction;
        reportHandedOver?.(fraction); // the form saved, the outbox shows it
      };
      uploading = uploadPhoto(file, photoKey, { onProgress, signal: sent.signal }).then(({ data }) => data);
      const data = await uploading;
      // Answered though given up (replaced, removed, the form closed as the last byte went):
      // not the pin's, and deleted rather than left on the server.
      if (upload !== sent) return void forgetPhoto(data.id);
      photo = { blob: null, id: data.id };
      kept = { photo, photoKey, file };
      uploadedHere.add(data.id);
      photoStatus.replaceChildren(notice(t("photoUploaded")));
      offerWhatThePhotoSays(data.suggested_location?.coordinates, data.accuracy_m, data.taken_at?.slice(0, 10));
    } catch (error) {
      if (error.name === "AbortError" || upload !== sent) return; // replaced, or the form closed
      if (!isTransient(error)) return refuseChosen(t("photoRefused", { detail: errorText(error) }));
      // Offline, or the server not answering now: the photo waits in the outbox with the pin,
      // as a copy without what the file says (keptCopy). One the phone can neither draw nor
      // clean cannot be kept: said now, it was dropped from the pin without a word.
      if (!(await keptCopy(file))) return void (upload === sent && refuseChosen(t("photoUnreadable")));
      if (upload !== sent) return;
      // What it says of where and when it was taken is read here, on the phone (the server
      // keeps neither).
      kept = { photo, photoKey, file };
      photoStatus.replaceChildren(notice(t("photoQueued")));
      const read = await readOnThePhone(file);
      if (upload === sent) offerWhatThePhotoSays(read.coordinates, null, read.day);
    }
  });

  // A photo refused (SAID why): nothing of it is shown as if it went with the pin, which keeps
  // the photo it had before, if any.
  function refuseChosen(said) {
    photoStatus.replaceChildren(notice(said, "error"));
    ({ photo, photoKey } = kept);
    photoInput.control.value = "";
    if (kept.file) showPreview(kept.file);
    else hidePreview();
    showRemovable();
  }

  // Removed: the pin goes without a photo. One this form sent is deleted from the server at
  // once, one being sent is given up (deleted should it arrive all the same), one the outbox
  // sent for the pin corrected is deleted once the correction is saved, and the photo's day,
  // if used, is no longer the pin's.
  removePhoto.addEventListener("click", () => {
    upload?.abort();
    upload = uploading = null;
    if (photo.id && uploadedHere.delete(photo.id)) forgetPhoto(photo.id);
    photo = { blob: null, id: null };
    photoKey = null;
    kept = { photo, photoKey, file: null };
    if (dayOfPhoto) observedDay = today;
    dayOfPhoto = false;
    photoInput.control.value = "";
    hidePreview();
    showRemovable();
    photoStatus.replaceChildren(notice(t("photoRemoved")));
    photoInput.control.focus();
  });

  // Buttons that put the pin where the photo was taken, and date a new pin by the photo's day
  // if it was another day (the day only is kept), when the photo says so.
  function offerWhatThePhotoSays(coordinates, photoAccuracy, takenDay) {
    if (coordinates) {
      const use = element("button", { type: "button" }, t("usePhotoPosition"));
      use.addEventListener("click", () => {
        marker.setLatLng([coordinates[1], coordinates[0]]);
        keepPinInSight(map, marker.getLatLng());
        accuracy = photoAccuracy ?? null;
        drawCones();
      });
      photoStatus.append(use);
    }
    if (!device && takenDay && takenDay !== today) {
      const useDay = element("button", { type: "button" }, t("usePhotoDay", { day: dayText(takenDay) }));
      useDay.addEventListener("click", () => {
        observedDay = takenDay;
        dayOfPhoto = true;
        useDay.replaceWith(notice(t("photoDayUsed", { day: dayText(takenDay) })));
      });
      photoStatus.append(useDay);
    }
  }

  function properties() {
    const angle = angleInput.control.value === "" ? null : Number(angleInput.control.value);
    const chosen = { kind, angle: directions.length ? angle : null, direction: directions.length ? [...new Set(directions)] : null };
    for (const [name, { control }] of Object.entries(selects)) chosen[name] = control.value || null;
    if (!CAMERA_KINDS.has(kind)) chosen.camera_type = null; // hidden: another kind has none
    chosen.height = height.control.value === "" ? null : Number(height.control.value);
    chosen.operator = visibleText(operator.control.value);
    chosen.notes = visibleText(notes.control.value);
    return chosen;
  }
  // The device as this form first reads it: what Save compares with, so that a field the
  // contributor did not touch is not sent, even where the form reads it otherwise (spaces
  // trimmed).
  const initial = properties();
  const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const changedFields = () => Object.entries(properties()).filter(([name, value]) => !same(value, initial[name]));

  const form = element("form", { class: "stack pin-form" }, status, toCentre, kindPicker,
    element("fieldset", {}, element("legend", {}, t("directions")), directionList, addDirection),
    angleInput.node, ...Object.values(selects).map((s) => s.node), height.node, operator.node, notes.node,
    // An edit adds a photo to those of the device, which the form does not show: said so.
    photoInput.node, props.photos?.length && device ? element("p", {}, t("photosKept", { count: props.photos.length })) : "",
    preview, removePhoto, photoStatus,
    element("p", { class: "actions" }, element("button", { type: "submit" }, t("save")), element("button", { type: "button", class: "secondary", onclick: closeSheet }, t("cancel"))));

  let saving = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (saving) return; // a second tap on Save while the first is kept: one pin, not two
    saving = true;
    form.querySelector("button[type=submit]").disabled = true;
    form.inert = true; // nothing changes under the Save being written (a photo removed)
    const here = marker.getLatLng();
    const geometry = { type: "Point", coordinates: [Number(here.lng.toFixed(7)), Number(here.lat.toFixed(7))] };
    // What the form holds as Save is pressed.
    const [held, heldKey] = [photo, photoKey];
    // A photo still being sent goes on: the outbox takes its answer instead of sending it again.
    const handedOver = held.blob && uploading ? heldKey : null;
    if (handedOver) reportHandedOver = handOverUpload(handedOver, uploading.then((data) => data.id));
    // Kept on the phone until sent: a copy without what the file says (queued, it is one). Its
    // bytes are not the file's, so it goes under a key of its own (the server refuses a key
    // sent again with other bytes), the upload under way under the file's.
    const copy = held.blob && held.blob !== waiting?.photo ? await keptCopy(held.blob) : held.blob;
    const photoFields = {
      photo: copy, photoId: held.id, photoKey: copy ? (copy === held.blob ? heldKey : crypto.randomUUID()) : null,
      // None: a correction saved after its upload ended does not wait for it again.
      handedOverKey: handedOver,
    };
    if (device) {
      // Only what the contributor changed: applied over a version changed meanwhile, the edit
      // keeps what others changed in the other fields.
      const changed = changedFields();
      const moved = !same(geometry.coordinates, device.geometry?.coordinates);
      const newPhoto = queuedEdit ? !samePhoto(held, firstPhoto) : Boolean(held.blob || held.id);
      if (!changed.length && !moved && !newPhoto) return closeSheet(); // nothing to send
      const patch = { type: "Feature", ...(moved ? { geometry } : {}), properties: Object.fromEntries(changed) };
      // An edit not sent yet, corrected: one edit, with the fields of both (this one's last),
      // and this form's photo (kept, replaced or removed).
      const corrected = queuedEdit && await outbox.retry(queuedEdit.seq, {
        patch: { ...queuedEdit.patch, ...patch, properties: { ...queuedEdit.patch.properties, ...patch.properties } },
        ...photoFields,
      });
      // Sent meanwhile: this one goes after it, over the version it made (no ETag: the device
      // as this form showed it is checked instead), its photo not sent twice.
      if (!corrected) {
        const sentPhoto = queuedEdit && !newPhoto;
        await outbox.add({
          type: "edit", owner: author, deviceId: device.id, kind: props.kind, etag: queuedEdit ? null : etag,
          seenContent: contentOf(device), patch, ...(sentPhoto ? {} : photoFields),
        });
      }
      // The photo a pass had sent for the edit corrected, replaced or removed: deleted.
      if (firstPhoto.id && held.id !== firstPhoto.id) forgetPhoto(firstPhoto.id);
    } else {
      const chosen = Object.fromEntries(Object.entries(properties()).filter(([, value]) => value !== null));
      const feature = {
        // A corrected pin keeps its id: should an earlier sending have reached the server, the
        // server tells it apart from a second pin.
        type: "Feature", id: queued?.feature.id ?? crypto.randomUUID(), geometry,
        // The day only: the moment a contributor stood before a camera is its footage of them.
        properties: { ...chosen, observed_at: `${observedDay}T00:00:00Z`, ...(accuracy ? { accuracy_m: accuracy } : {}) },
      };
      // A pin sent while it was being corrected: the correction goes as a pin of the same id,
      // which the server answers as the contributor's own, and which then becomes an edit of
      // it (operations.js, sendCorrection).
      const corrected = queued && await outbox.retry(queued.seq, { feature, force: false, dayOfPhoto, ...photoFields });
      if (!corrected) await outbox.add({ type: "pin", owner: author, feature, force: false, dayOfPhoto, ...photoFields });
      // The photo the outbox had sent for the pin corrected, replaced or removed: deleted
      // (attached to a pin stored with its answer lost, it leaves that pin too).
      if (firstPhoto.id && held.id !== firstPhoto.id) forgetPhoto(firstPhoto.id);
    }
    closeSheet();
    outbox.flush();
  });

  listDirections();
  drawCones();
  // Closed (saved, or given up): a photo still being sent goes with the outbox, or not at all.
  const closed = () => {
    layers.remove();
    if (!saving) upload?.abort();
    hidePreview();
    for (const id of uploadedHere) {
      if (!(saving && id === photo.id)) forgetPhoto(id);
    }
  };
  // Leaving the form loses a field changed, the pin moved or a photo chosen: asked first.
  const unsaved = () => !saving && (changedFields().length > 0 || !marker.getLatLng().equals(start) || !samePhoto(photo, firstPhoto));
  // The phone turned (or the window resized): the pin is put in sight again.
  const inSightAgain = () => keepPinInSight(map, marker.getLatLng());
  map.on("resize", inSightAgain);
  const closedAndLeft = () => { map.off("resize", inSightAgain); closed(); };
  openSheet(queuedEdit ? t("correctChange") : device ? t("edit") : queued ? t("correctPin") : t("pinDevice"), form, { closed: closedAndLeft, unsaved });
  keepPinInSight(map, marker.getLatLng());
}

// The photo's day as the server reads it online (service/photos/location.py, the UTC day of
// `taken_at`): the camera clock's when the photo says its zone, else the GPS date (UTC), else
// none, since a clock without zone may be either day around midnight. exifr gives the clock
// as a Date of the phone's zone: its fields are the clock's.
function takenDay(tags) {
  const clock = tags.DateTimeOriginal;
  const zone = /^([+-])(\d{2}):(\d{2})$/.exec(String(tags.OffsetTimeOriginal ?? "").trim());
  if (clock instanceof Date && !Number.isNaN(+clock) && zone) {
    const wall = Date.UTC(clock.getFullYear(), clock.getMonth(), clock.getDate(), clock.getHours(), clock.getMinutes(), clock.getSeconds());
    const minutes = (zone[1] === "-" ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3]));
    return new Date(wall - minutes * 60_000).toISOString().slice(0, 10);
  }
  const gps = /^(\d{4}):(\d{2}):(\d{2})$/.exec(String(tags.GPSDateStamp ?? "").trim());
  return gps && tags.GPSTimeStamp != null ? `${gps[1]}-${gps[2]}-${gps[3]}` : null;
}

// The longest side the server keeps of a photo (its full rendition): a copy needs no more.
const KEPT_SIDE = 2560;

// FILE as the outbox keeps it until it can be sent: drawn again, upright, into a JPEG that
// holds none of what the file said (where and when it was taken, the phone's serial number),
// which a seized phone would otherwise give away; where the phone cannot draw it (a JPEG its
// browser does not decode, too large a canvas), the same JPEG without those segments, not
// turned; null (no photo kept) when neither can be had. A JPEG only, as its first bytes say
// (what cameras write; the phone's label of a file may be wrong): another file is kept as it
// is, to be refused by the server if it must be (a GIF, an animation), as it is online.
// Made once for a file: when the photo is chosen offline (to say at once if it cannot be
// kept), and again as Save puts it in the outbox.
const copies = new WeakMap();
function keptCopy(file) {
  if (!copies.has(file)) copies.set(file, redrawnForThePhone(file));
  return copies.get(file);
}

async function redrawnForThePhone(file) {
  const head = new Uint8Array(await file.slice(0, 3).arrayBuffer());
  if (!(head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff)) return file;
  let canvas = null;
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    const scale = Math.min(1, KEPT_SIDE / Math.max(bitmap.width, bitmap.height));
    canvas = element("canvas", { width: Math.round(bitmap.width * scale), height: Math.round(bitmap.height * scale) });
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const drawn = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
    if (drawn) return drawn;
  } catch {
    // Not drawn: its segments are dropped instead.
  } finally {
    // Its memory given back at once (Safari counts every canvas of the page against a limit).
    if (canvas) canvas.width = canvas.height = 0;
  }
  return jpegWithoutMetadata(new Uint8Array(await file.arrayBuffer()));
}

// BYTES, a JPEG, without what its segments say of it (APP1 to APP15 but APP14, Adobe's colour
// coding: EXIF, XMP, ICC and maker data; comments) nor what follows its end (a phone's trailer,
// a second image), read without decoding; null when its segments cannot be read.
function jpegWithoutMetadata(bytes) {
  const parts = [bytes.subarray(0, 2)];
  let at = 2;
  while (at + 1 < bytes.length) {
    if (bytes[at] !== 0xff) return null;
    const marker = bytes[at + 1];
    if (marker === 0xff) { at += 1; continue; } // a fill byte
    if (marker === 0xd9) return new Blob([...parts, bytes.subarray(at, at + 2)], { type: "image/jpeg" });
    if (at + 3 >= bytes.length) return null;
    const end = at + 2 + ((bytes[at + 2] << 8) | bytes[at + 3]);
    if (end <= at + 3 || end > bytes.length) return null;
    const said = (marker >= 0xe1 && marker <= 0xef && marker !== 0xee) || marker === 0xfe;
    if (!said) parts.push(bytes.subarray(at, end));
    at = end;
    if (marker === 0xda) {
      // A scan's coded data runs to the next marker: neither a stuffed 0xff00 nor a restart.
      let next = at;
      while (next + 1 < bytes.length && !(bytes[next] === 0xff && bytes[next + 1] !== 0 && (bytes[next + 1] < 0xd0 || bytes[next + 1] > 0xd7))) next += 1;
      parts.push(bytes.subarray(at, next));
      at = next;
    }
  }
  return null;
}

// Where and on which day FILE was taken, as its EXIF says, read on the phone (offline, the
// server cannot): { coordinates: [lon, lat] or null, day: "YYYY-MM-DD" or null }. exifr is
// loaded only then.
async function readOnThePhone(file) {
  try {
    const { parse } = await import("exifr/dist/lite.esm.mjs");
    const tags = (await parse(file)) || {};
    // As the server reads it (service/photos/location.py): 0, 0 is a phone with no fix.
    const valid = Number.isFinite(tags.latitude) && Number.isFinite(tags.longitude)
      && Math.abs(tags.latitude) <= 90 && Math.abs(tags.longitude) <= 180
      && !(tags.latitude === 0 && tags.longitude === 0);
    return {
      coordinates: valid ? [Number(tags.longitude.toFixed(7)), Number(tags.latitude.toFixed(7))] : null,
      day: takenDay(tags),
    };
  } catch {
    return { coordinates: null, day: null }; // not an image exifr reads, or no EXIF
  }
}

// Half the cone handle's icon (28 px).
const HANDLE_RADIUS_PX = 14;

// The pin in sight, and the handle of a cone pointing north with it: where the part of the map
// left in sight is short (a small phone held sideways, under the form), the map zooms out, a
// level at a time and three at most, until that handle lies below the header.
function keepPinInSight(map, latlng) {
  keepInSight(map, latlng);
  for (let step = 0; step < 3; step += 1) {
    const handle = map.latLngToContainerPoint(offset(latlng.lat, latlng.lng, 0, CONE_HANDLE_M));
    if (handle.y - HANDLE_RADIUS_PX >= uncoveredArea(map).top) return;
    map.setZoom(map.getZoom() - 1, { animate: false });
    keepInSight(map, latlng);
  }
}
