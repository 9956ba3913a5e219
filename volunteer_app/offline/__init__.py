"""Working with no signal: the web app manifest, the service worker, the offline page."""
