"""``causalcam serve``: the explanation web page. :mod:`.service` holds the logic (no web
framework); :mod:`.server` the FastAPI application (extra ``causalcam[app]``)."""
