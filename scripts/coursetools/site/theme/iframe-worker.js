/* A stand-in for Web Workers on pages opened from file://, written for this course site.
 *
 * Chromium refuses to start a Worker from a file:// page, and Material's search runs in one.
 * Material's offline plugin would load a polyfill from a CDN; the site must work with no
 * network, so this file takes its place (the plugin keeps any polyfill whose URL names
 * "iframe-worker"). The worker's script runs in a hidden same-origin iframe: the page's
 * postMessage becomes a "message" event on the iframe's window, and the script's global
 * postMessage becomes a "message" event on this object. Only what the search worker uses is
 * provided: addEventListener/onmessage, postMessage, terminate.
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
      this.pending = [];
      this.scope = null;
      this.frame = document.createElement("iframe");
      this.frame.hidden = true;
      (document.body || document.documentElement).appendChild(this.frame);
      const scope = this.frame.contentWindow;
      scope.postMessage = (data) => this.deliver(data);
      scope.importScripts = () => {
        throw new Error("importScripts is not available to a worker started from file://");
      };
      const script = scope.document.createElement("script");
      script.src = new URL(url, location.href).href;
      script.onload = () => {
        this.scope = scope;
        this.pending.splice(0).forEach((data) => this.postMessage(data));
      };
      script.onerror = () => this.fail("could not load the worker script " + script.src);
      scope.document.head.appendChild(script);
    }

    postMessage(data) {
      if (this.scope === null) {
        this.pending.push(data);
        return;
      }
      const scope = this.scope;
      setTimeout(() => scope.dispatchEvent(new scope.MessageEvent("message", { data })), 0);
    }

    deliver(data) {
      const event = new MessageEvent("message", { data });
      this.dispatchEvent(event);
      if (typeof this.onmessage === "function") {
        this.onmessage(event);
      }
    }

    fail(message) {
      const event = new ErrorEvent("error", { message });
      this.dispatchEvent(event);
      if (typeof this.onerror === "function") {
        this.onerror(event);
      }
    }

    terminate() {
      this.frame.remove();
      this.scope = null;
    }
  }

  window.Worker = FrameWorker;
})();
