/*
 * A Web Worker stand-in for the site opened from the file system (file://), where browsers
 * refuse to start workers: the worker's script runs in a hidden iframe of the page's own
 * origin. The site's search runs in a worker; without this file the offline plugin of
 * Material for MkDocs would load such a shim from a CDN, which an offline site must not do.
 * Messages go both ways asynchronously, as with a real worker; importScripts is not offered.
 */
(function () {
  "use strict";
  if (location.protocol !== "file:") {
    return;
  }

  class FrameWorker extends EventTarget {
    constructor(url) {
      super();
      this.onmessage = null;
      this.onerror = null;
      this.ready = false;
      this.queue = [];
      this.frame = document.createElement("iframe");
      this.frame.hidden = true;
      this.frame.setAttribute("aria-hidden", "true");
      const start = () => this.start(new URL(url, location.href).href);
      if (document.body) {
        start();
      } else {
        document.addEventListener("DOMContentLoaded", start, { once: true });
      }
    }

    start(href) {
      document.body.appendChild(this.frame);
      const scope = this.frame.contentWindow;
      scope.postMessage = (data) => this.emit("message", data);
      scope.importScripts = () => {
        throw new Error("importScripts is not available to a page opened from a file");
      };
      const script = scope.document.createElement("script");
      script.src = href;
      script.onload = () => {
        this.ready = true;
        this.queue.splice(0).forEach((data) => this.postMessage(data));
      };
      script.onerror = () => this.emit("error", `cannot load ${href}`);
      scope.document.head.appendChild(script);
    }

    postMessage(data) {
      if (!this.ready) {
        this.queue.push(data);
        return;
      }
      const scope = this.frame.contentWindow;
      setTimeout(() => scope.dispatchEvent(new scope.MessageEvent("message", { data })), 0);
    }

    terminate() {
      this.frame.remove();
    }

    emit(type, data) {
      setTimeout(() => {
        const event = new MessageEvent(type, { data });
        const handler = this[`on${type}`];
        if (typeof handler === "function") {
          handler.call(this, event);
        }
        this.dispatchEvent(event);
      }, 0);
    }
  }

  window.Worker = FrameWorker;
})();
