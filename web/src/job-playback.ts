import { getJson, type Media } from './api.js';
import { h } from './dom.js';

/** requestVideoFrameCallback is in the DOM types but not in every browser. */
export type VideoWithFrameCallback = Omit<HTMLVideoElement, 'requestVideoFrameCallback' | 'cancelVideoFrameCallback'> & {
  requestVideoFrameCallback?: (cb: (now: number, meta: { mediaTime: number }) => void) => number;
  cancelVideoFrameCallback?: (handle: number) => void;
};

/**
 * Playback controls beside the native ones (play/pause, frame steps, speed), put before `controls`' children; draws
 * in step with the video; and, since a signed URL lasts minutes, on an error (e.g. expired while paused) gets a new
 * one from `sourceUrlPath` and resumes where it was.
 */
export function playbackControls(
  video: VideoWithFrameCallback, media: Media, controls: HTMLElement, draw: (ms: number) => void, sourceUrlPath: string, signal: AbortSignal,
): void {
  const speed = h('select', { id: 'speed' }, ...[0.25, 0.5, 1, 1.5, 2, 4].map((s) => h('option', { value: s, selected: s === 1 }, `${s}×`)));
  speed.addEventListener('change', () => (video.playbackRate = Number(speed.value)));
  const interval = media.fps > 0 ? 1000 / media.fps : 40;
  const step = (n: number) => {
    video.pause();
    video.currentTime = Math.max(0, Math.min(video.duration || Infinity, video.currentTime + (n * interval) / 1000));
  };
  controls.prepend(
    h('button', { type: 'button', class: 'secondary', onclick: () => (video.paused ? void video.play() : video.pause()), id: 'play' }, 'Play / pause'),
    h('button', { type: 'button', class: 'secondary', onclick: () => step(-1), 'aria-label': 'Previous frame' }, '◀ frame'),
    h('button', { type: 'button', class: 'secondary', onclick: () => step(1), 'aria-label': 'Next frame' }, 'frame ▶'),
    h('label', { for: 'speed' }, 'Speed '), speed);
  syncToVideo(video, draw, signal);
  let retried = false;
  video.addEventListener('error', () => {
    if (retried || signal.aborted) return;
    retried = true;
    const at = video.currentTime;
    void getJson<{ url: string }>(sourceUrlPath, { method: 'POST', signal }).then(({ url }) => {
      video.src = url;
      video.currentTime = at;
    });
  });
}

/**
 * Draws the frame on screen: with requestVideoFrameCallback, for every presented frame (its exact media time);
 * otherwise on timeupdate and animation frames while playing. Seeks and pauses redraw either way.
 */
function syncToVideo(video: VideoWithFrameCallback, draw: (ms: number) => void, signal: AbortSignal): void {
  const now = () => draw(video.currentTime * 1000);
  for (const type of ['seeked', 'seeking', 'pause', 'loadeddata', 'ratechange', 'timeupdate']) {
    video.addEventListener(type, () => {
      // While playing with frame callbacks, timeupdate would draw a time between frames: leave it to the callback.
      if (type === 'timeupdate' && !video.paused && video.requestVideoFrameCallback) return;
      now();
    }, { signal });
  }
  if (video.requestVideoFrameCallback) {
    let handle = 0;
    const onFrame = (_now: number, meta: { mediaTime: number }) => {
      if (signal.aborted) return;
      draw(meta.mediaTime * 1000);
      handle = video.requestVideoFrameCallback!(onFrame);
    };
    handle = video.requestVideoFrameCallback(onFrame);
    signal.addEventListener('abort', () => video.cancelVideoFrameCallback?.(handle));
  } else {
    let raf = 0;
    const loop = () => {
      now();
      if (!video.paused && !signal.aborted) raf = requestAnimationFrame(loop);
    };
    video.addEventListener('play', () => (raf = requestAnimationFrame(loop)), { signal });
    signal.addEventListener('abort', () => cancelAnimationFrame(raf));
  }
}

