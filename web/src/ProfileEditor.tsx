/**
 * "Your profile" in Settings: the display name (with the counter every name
 * field has) and the avatar. Part of the lazily loaded Settings chunk: the
 * image decoding, cropping and upload code costs the first screen nothing.
 *
 * The crop is a centred square with a zoom slider and a live preview, not a
 * free drag-to-position cropper: faces in profile photos are nearly always
 * near the middle, the slider works the same with a mouse, a keyboard and a
 * finger (a drag does not, and needs its own accessible alternative), and it
 * stays a few lines. The square is scaled to 256×256 in a canvas, encoded as
 * WebP (PNG where a browser cannot encode WebP; JPEG if that runs over the
 * node's 256 KB), and only those pixels are sent: no EXIF, no location, never
 * the original file.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { OutpostApiError, type User } from "../../sdk/index";
import { NAME_LIMITS } from "../../protocol/names";
import { api, avatarOf, changed, remember, state } from "./store";
import { t } from "./i18n";
import { errorText } from "./error-messages";
import { NameField, nameLength } from "./NameField";
import { Avatar } from "./Avatar";

const SIZE = 256;
const MAX_BYTES = 256 * 1024;

function learn(user: User): void {
  state.me = user;
  remember(user.id, user.displayName, user.username, user.avatar ?? null);
  changed();
}

/** Draw the centred square of `image` (its side: the short side / zoom) onto `canvas` at 256×256. */
function drawCrop(canvas: HTMLCanvasElement, image: ImageBitmap, zoom: number): void {
  const side = Math.min(image.width, image.height) / zoom;
  const ctx = canvas.getContext("2d")!;
  ctx.imageSmoothingQuality = "high";
  ctx.clearRect(0, 0, SIZE, SIZE);
  ctx.drawImage(image, (image.width - side) / 2, (image.height - side) / 2, side, side, 0, 0, SIZE, SIZE);
}

const encode = (canvas: HTMLCanvasElement, type: string, quality?: number) => new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, type, quality));

async function encodeAvatar(canvas: HTMLCanvasElement): Promise<Blob> {
  // toBlob falls back to PNG for a type the browser cannot encode: the node takes both.
  const blob = await encode(canvas, "image/webp", 0.9);
  if (blob && blob.size <= MAX_BYTES) return blob;
  return (await encode(canvas, "image/jpeg", 0.85)) ?? Promise.reject(new Error("encode"));
}

export function ProfileEditor() {
  const me = state.me!;
  const [name, setName] = useState(me.displayName);
  const [nameError, setNameError] = useState<string | null>(null);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const [image, setImage] = useState<ImageBitmap | null>(null);
  const [zoom, setZoom] = useState(1);
  const [busy, setBusy] = useState(false);
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    if (image && canvas.current) drawCrop(canvas.current, image, zoom);
  }, [image, zoom]);

  const saveName = async (e: Event) => {
    e.preventDefault();
    setNote(null);
    setNameError(null);
    if (nameLength(name) > NAME_LIMITS.displayName || name.trim() === me.displayName) return;
    try {
      learn(await api.updateMe({ displayName: name }));
      setName(state.me!.displayName);
      setNote({ ok: true, text: t("saved") });
    } catch (err) {
      if (err instanceof OutpostApiError && err.field === "displayName") setNameError(errorText(err));
      else setNote({ ok: false, text: errorText(err) });
    }
  };

  const choose = async (file: File | undefined) => {
    setNote(null);
    if (!file) return;
    try {
      setZoom(1);
      setImage(await createImageBitmap(file));
    } catch {
      setImage(null);
      setNote({ ok: false, text: t("avatarNotImage") });
    }
  };

  const run = async (fn: () => Promise<User>) => {
    setBusy(true);
    try {
      learn(await fn());
      setImage(null);
      setNote({ ok: true, text: t("saved") });
    } catch (err) {
      setNote({ ok: false, text: errorText(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="settings-section profile" aria-label={t("profile")}>
      <h3>{t("profile")}</h3>
      <form class="row profile-name" onSubmit={saveName}>
        <NameField label={t("displayName")} name="displayName" value={name} limit={NAME_LIMITS.displayName} required error={nameError} onInput={(v) => { setName(v); setNote(null); setNameError(null); }} />
        <button type="submit" data-testid="save-display-name">{t("save")}</button>
      </form>
      <p class="muted small">@{me.username}</p>

      <div class="profile-avatar">
        {image ? (
          <canvas ref={canvas} width={SIZE} height={SIZE} class="avatar-preview" data-testid="avatar-preview" aria-label={t("avatarPreview")} role="img" />
        ) : (
          <span class="avatar-large"><Avatar userId={me.id} name={me.displayName} /></span>
        )}
        <div class="profile-avatar-controls">
          <label class="file-button">
            {t("chooseAvatar")}
            <input type="file" name="avatarFile" accept="image/png,image/jpeg,image/webp" class="sr-only" onChange={(e) => { void choose(e.currentTarget.files?.[0]); e.currentTarget.value = ""; }} />
          </label>
          {image && (
            <>
              <label>
                {t("avatarZoom")}
                <input type="range" name="avatarZoom" min="1" max="3" step="0.05" value={zoom} onInput={(e) => setZoom(Number(e.currentTarget.value))} />
              </label>
              <div class="row">
                <button type="button" class="primary" disabled={busy} data-testid="save-avatar" onClick={() => void run(async () => api.setAvatar(await encodeAvatar(canvas.current!)))}>{t("saveAvatar")}</button>
                <button type="button" disabled={busy} onClick={() => setImage(null)}>{t("cancel")}</button>
              </div>
            </>
          )}
          {!image && avatarOf(me.id) && (
            <button type="button" class="link" disabled={busy} data-testid="remove-avatar" onClick={() => void run(() => api.removeAvatar())}>{t("removeAvatar")}</button>
          )}
          <p class="muted small">{t("avatarHint")}</p>
        </div>
      </div>
      {note && <p class={note.ok ? "muted" : "error"} role={note.ok ? "status" : "alert"}>{note.text}</p>}
    </section>
  );
}
