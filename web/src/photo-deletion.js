// Deleting one photo, wherever a contributor or a moderator may: a pin's details, the review
// queue, one's own contributions.
import { request } from "./api.js";
import { errorText, t } from "./i18n.js";
import { element, notice } from "./ui.js";

// A button that deletes PHOTO from the server, once confirmed: its uploader's or a moderator's
// to delete (a face or a plate caught by mistake, on a pin awaiting review or rejected, which
// a moderator would otherwise have to publish or reject whole). DONE runs once it is gone,
// deleted meanwhile included (404); a refusal is shown in MESSAGE.
export function deletePhotoButton(photo, label, { message, done }) {
  const button = element("button", { type: "button", class: "secondary" }, label);
  button.addEventListener("click", async () => {
    if (!window.confirm(t("deletePhotoConfirm"))) return;
    button.disabled = true;
    try {
      await request("DELETE", `photos/${photo.id}`);
    } catch (error) {
      if (error?.status !== 404) {
        button.disabled = false;
        message.replaceChildren(notice(errorText(error), "error"));
        return;
      }
    }
    done();
  });
  return button;
}
