"""A Kubernetes API-server emulator for the tests: the real protocol over
HTTPS with bearer-token auth, for the kinds Gantry watches (IngressClasses,
Ingresses, Services, EndpointSlices, Secrets) and Leases.

What it implements, as the API concepts document describes it:
  - list with a collection resourceVersion, labelSelector (=, ==, !=,
    exists), fieldSelector on type (Secrets), limit/continue pagination;
  - watch as a chunked stream of JSON lines (ADDED, MODIFIED, DELETED,
    BOOKMARK with allowWatchBookmarks, ERROR), from a resourceVersion, ended
    by the server after timeoutSeconds;
  - 410 Gone for a resourceVersion older than the retained history, as an
    HTTP status (list/watch) or as an ERROR event in a watch stream;
  - create (POST; 409 AlreadyExists), replace (PUT; 409 Conflict for a
    stale metadata.resourceVersion, 404 for a missing Secret or Lease),
    merge patch (PATCH), delete, and the
    status subresource; discovery documents so the real kubectl can apply
    YAML to it;
  - CustomResourceDefinitions (apiextensions.k8s.io/v1): applying one
    serves its kind under every served version at once (Established), with
    its status subresource when it declares one (then a write to the main
    resource leaves status alone, and only the status subresource sets
    it); deleting it removes the kind and its objects. The Gateway API kinds
    exist only once their CRDs are applied, as in a real cluster;
  - metadata.generation: 1 at creation, +1 when anything but metadata and
    status changes.
Faults for the tests: fail the next N requests with 500 or 429 +
Retry-After, drop every open watch, compact history (so the next watch
from an old version gets 410), slow bookmarks.
"""
import base64
import bisect
import copy
import http.server
import json
import os
import re
import socket
import socketserver
import ssl
import threading
import time
import urllib.parse

KINDS = {
    # plural: (group, version, kind, namespaced)
    "ingressclasses": ("networking.k8s.io", "v1", "IngressClass", False),
    "ingresses": ("networking.k8s.io", "v1", "Ingress", True),
    "services": ("", "v1", "Service", True),
    "endpointslices": ("discovery.k8s.io", "v1", "EndpointSlice", True),
    "secrets": ("", "v1", "Secret", True),
    "configmaps": ("", "v1", "ConfigMap", True),  # BackendTLSPolicy caCertificateRefs
    "leases": ("coordination.k8s.io", "v1", "Lease", True),
    "namespaces": ("", "v1", "Namespace", False),
    "events": ("", "v1", "Event", True),  # written by gantry (ingress-nginx annotations it does not honour)
}
# Traefik's CRD kinds (traefik.io/v1alpha1), for the kubernetescrd provider
KINDS.update({
    "ingressroutes": ("traefik.io", "v1alpha1", "IngressRoute", True),
    "ingressroutetcps": ("traefik.io", "v1alpha1", "IngressRouteTCP", True),
    "ingressrouteudps": ("traefik.io", "v1alpha1", "IngressRouteUDP", True),
    "middlewares": ("traefik.io", "v1alpha1", "Middleware", True),
    "middlewaretcps": ("traefik.io", "v1alpha1", "MiddlewareTCP", True),
    "tlsoptions": ("traefik.io", "v1alpha1", "TLSOption", True),
    "tlsstores": ("traefik.io", "v1alpha1", "TLSStore", True),
    "serverstransports": ("traefik.io", "v1alpha1", "ServersTransport", True),
    "serverstransporttcps": ("traefik.io", "v1alpha1", "ServersTransportTCP", True),
    "traefikservices": ("traefik.io", "v1alpha1", "TraefikService", True),
})
KINDS["customresourcedefinitions"] = ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", False)
KIND_TO_PLURAL = {v[2]: k for k, v in KINDS.items()}
STATUS_SUBRESOURCE = {"ingresses"}
# kinds whose replace (PUT) of a missing object is 404, as the API server's
# strategies say (AllowCreateOnUpdate false): a writer must create with POST
NO_CREATE_ON_UPDATE = {"secrets", "leases"}  # built-in kinds whose status is written through /status


def api_version(plural):
    group, version = KINDS[plural][0], KINDS[plural][1]
    return "%s/%s" % (group, version) if group else version


def status_object(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def parse_selector(text):
    """[(key, op, value)] for 'a=b,c!=d,e,!f'."""
    out = []
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        m = re.match(r"^([^!=]+)(==|=|!=)(.*)$", part)
        if m:
            out.append((m.group(1).strip(), "!=" if m.group(2) == "!=" else "=", m.group(3).strip()))
        elif part.startswith("!"):
            out.append((part[1:], "!", None))
        else:
            out.append((part, "exists", None))
    return out


def selector_matches(sel, labels):
    labels = labels or {}
    for k, op, v in sel:
        if op == "=" and labels.get(k) != v:
            return False
        if op == "!=" and labels.get(k) == v:
            return False
        if op == "exists" and k not in labels:
            return False
        if op == "!" and k in labels:
            return False
    return True


class Emulator:
    def __init__(self, token="test-token", cert=None, key=None, history=1000, bookmark_interval=1.0, client_ca=None):
        self.token = token
        self.lock = threading.Condition()
        self.rv = 100
        # the kinds served: the built-in ones, and those of CRDs applied later
        self.kinds = dict(KINDS)
        self.kind_to_plural = dict(KIND_TO_PLURAL)
        self.versions = {p: [v[1]] for p, v in self.kinds.items()}  # served versions, the first preferred
        self.status_sub = set(STATUS_SUBRESOURCE)
        self.short_names = {"customresourcedefinitions": ["crd", "crds"]}
        self.objects = {p: {} for p in self.kinds}  # plural -> {(ns, name): obj}
        self.events = []  # (rv, plural, type, obj)
        self.events_of = {}  # plural -> [(rv, plural, type, obj)]: what a watch of one kind reads (bisected by rv)
        self.history = history
        self.compacted_rv = self.rv  # watches from below this get 410
        self.faults = []  # [(status, retry_after, path_regex)]
        self.watch_gone_as_event = True
        self.bookmark_interval = bookmark_interval
        self.watch_generation = 0  # bumped to drop every open watch
        self.max_watch_seconds = None  # end every watch cleanly after this long (the server's own timeout)
        self.requests = []  # (method, path with query) for assertions
        self.request_log = []  # (time, method, path, status of an injected fault or None)
        self.open_watches = 0
        self.server = None
        self.cert, self.key = cert, key
        self.client_ca = client_ca  # also accept client certificates signed by it

    # ---- store ----

    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    def _record(self, plural, etype, obj):
        e = (int(obj["metadata"]["resourceVersion"]), plural, etype, copy.deepcopy(obj))
        self.events.append(e)
        self.events_of.setdefault(plural, []).append(e)
        if len(self.events) > self.history:
            dropped = self.events[: len(self.events) - self.history]
            self.events = self.events[len(self.events) - self.history:]
            self.compacted_rv = max(self.compacted_rv, dropped[-1][0])
            for p, evs in self.events_of.items():
                self.events_of[p] = evs[bisect.bisect_right(evs, (self.compacted_rv, "\uffff")):]
        self.lock.notify_all()

    def events_after(self, plural, rv):
        evs = self.events_of.get(plural, [])
        return evs[bisect.bisect_right(evs, (rv, "\uffff")):]

    def api_version(self, plural):
        group, version = self.kinds[plural][0], self.kinds[plural][1]
        return "%s/%s" % (group, version) if group else version

    def _register_crd(self, crd):
        """Serves the kind <crd> defines (its served versions, storage first)."""
        spec = crd.get("spec", {})
        names, group = spec.get("names", {}), spec.get("group", "")
        plural = names.get("plural")
        served = [v for v in spec.get("versions", []) if v.get("served", True)]
        if not plural or not served or not names.get("kind"):
            return
        served.sort(key=lambda v: not v.get("storage", False))
        self.kinds[plural] = (group, served[0]["name"], names["kind"], spec.get("scope", "Namespaced") == "Namespaced")
        self.kind_to_plural[names["kind"]] = plural
        self.versions[plural] = [v["name"] for v in served]
        self.short_names[plural] = list(names.get("shortNames") or [])
        if any("status" in (v.get("subresources") or {}) for v in served):
            self.status_sub.add(plural)
        else:
            self.status_sub.discard(plural)
        self.objects.setdefault(plural, {})
        crd["status"] = {"acceptedNames": names, "storedVersions": [served[0]["name"]], "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": ""},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": ""}]}

    def apply(self, obj, keep_status=False):
        """Creates or replaces <obj> (a dict with kind and metadata); with
        <keep_status>, the stored status stays (a write to the main
        resource of a kind with a status subresource)."""
        obj = copy.deepcopy(obj)
        plural = self.kind_to_plural[obj["kind"]]
        obj["apiVersion"] = self.api_version(plural)  # stored (and served) as the preferred version
        meta = obj.setdefault("metadata", {})
        if self.kinds[plural][3]:
            meta.setdefault("namespace", "default")
        key = (meta.get("namespace", ""), meta["name"])
        with self.lock:
            old = self.objects[plural].get(key)
            meta["uid"] = old["metadata"]["uid"] if old else "uid-%s-%s-%s" % (plural, key[0], key[1])
            meta["resourceVersion"] = self._next_rv()
            if old and "status" in old and ("status" not in obj or keep_status):
                obj["status"] = old["status"]
            elif keep_status:
                obj.pop("status", None)
            def body(o):
                return {k: v for k, v in o.items() if k not in ("metadata", "status")}
            gen = (old or {}).get("metadata", {}).get("generation", 0)
            meta["generation"] = gen if old and gen and body(old) == body(obj) else gen + 1
            if obj["kind"] == "CustomResourceDefinition":
                self._register_crd(obj)
            self.objects[plural][key] = obj
            self._record(plural, "MODIFIED" if old else "ADDED", obj)
            return copy.deepcopy(obj)

    def delete(self, kind, namespace, name):
        plural = self.kind_to_plural[kind]
        with self.lock:
            obj = self.objects[plural].pop((namespace if self.kinds[plural][3] else "", name), None)
            if obj is None:
                return None
            obj["metadata"]["resourceVersion"] = self._next_rv()
            self._record(plural, "DELETED", obj)
            if kind == "CustomResourceDefinition":  # its kind and objects go with it
                gone = obj.get("spec", {}).get("names", {}).get("plural")
                if gone in self.kinds and gone not in KINDS:
                    self.kind_to_plural.pop(self.kinds.pop(gone)[2], None)
                    self.objects.pop(gone, None)
            return obj

    def get(self, kind, namespace, name):
        plural = self.kind_to_plural[kind]
        with self.lock:
            o = self.objects[plural].get((namespace if self.kinds[plural][3] else "", name))
            return copy.deepcopy(o) if o else None

    # ---- faults ----

    def fail_next(self, status, count=1, retry_after=None, path=".*"):
        with self.lock:
            self.faults += [(status, retry_after, re.compile(path))] * count

    def drop_watches(self):
        """Every open watch connection is cut (as a restarting apiserver or LB)."""
        with self.lock:
            self.watch_generation += 1
            self.lock.notify_all()

    def compact(self):
        """Forgets the history: a watch from any earlier version gets 410 Gone."""
        with self.lock:
            self.compacted_rv = self.rv
            self.events = []
            self.events_of = {}
            self.watch_generation += 1  # real etcd compaction also ends watches
            self.lock.notify_all()

    # ---- serving ----

    def start(self):
        emulator = self

        class Handler(RequestHandler):
            em = emulator

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        if self.cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert, self.key)
            if self.client_ca:
                ctx.verify_mode = ssl.CERT_OPTIONAL
                ctx.load_verify_locations(self.client_ca)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = "%s://127.0.0.1:%d" % ("https" if self.cert else "http", self.port)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.drop_watches()
            self.server.shutdown()
            self.server.server_close()


def discovery_resources(em, group, version):
    res = []
    for plural, (g, v, kind, namespaced) in list(em.kinds.items()):
        if g == group and version in em.versions.get(plural, [v]):
            res.append({"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                        "shortNames": em.short_names.get(plural, [])})
            if plural in em.status_sub:
                res.append({"name": plural + "/status", "singularName": "", "namespaced": namespaced, "kind": kind,
                            "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "%s/%s" % (group, version) if group else version,
            "resources": res}


class RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    em = None

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # as Go's net/http (the real API server): no Nagle delay between a
        # response's header and body writes (40 ms against delayed ACKs)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send_json(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n else b""
        if not data:
            return None
        ctype = self.headers.get("Content-Type", "")
        if "yaml" in ctype:
            import yaml
            return yaml.safe_load(data)
        return json.loads(data)

    def route(self):
        """(plural, namespace, name, subresource) or a discovery answer."""
        path = urllib.parse.urlsplit(self.path).path.rstrip("/")
        m = re.match(r"^/(?:api/v1|apis/([^/]+)/([^/]+))(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+))?(?:/([^/]+))?$", path)
        if not m:
            return None
        group = m.group(1) or ""
        version = m.group(2) or "v1"
        ns, plural, name, sub = m.group(3), m.group(4), m.group(5), m.group(6)
        em = self.em
        if plural not in em.kinds or em.kinds[plural][0] != group or version not in em.versions.get(plural, []):
            if plural == "namespaces" and ns is None and group == "":
                return None
            return None
        return plural, ns, name, sub

    def handle_any(self, method):
        em = self.em
        with em.lock:
            em.requests.append((method, self.path))
            em.request_log.append([time.time(), method, self.path, None])
            entry = em.request_log[-1]
        client_cert = hasattr(self.connection, "getpeercert") and self.connection.getpeercert()
        if self.headers.get("Authorization") != "Bearer " + em.token and not client_cert:
            return self.send_json(401, status_object(401, "Unauthorized", "Unauthorized"))
        with em.lock:
            for i, (status, retry, rx) in enumerate(em.faults):
                if rx.search(self.path):
                    del em.faults[i]
                    entry[3] = status
                    extra = {"Retry-After": str(retry)} if retry is not None else None
                    reason = "TooManyRequests" if status == 429 else "InternalError"
                    return self.send_json(status, status_object(status, reason, "injected fault"), extra)
        path = urllib.parse.urlsplit(self.path).path.rstrip("/")
        if method == "GET" and path in ("/api", ""):
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if method == "GET" and path == "/apis":
            groups = {}
            for p, (g, v, _, _) in list(em.kinds.items()):
                if g:
                    vs = groups.setdefault(g, [v])
                    vs += [x for x in em.versions.get(p, [v]) if x not in vs]
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": "%s/%s" % (g, vs[0]), "version": vs[0]}}
                for g, vs in sorted(groups.items())]})
        if method == "GET" and path == "/api/v1":
            return self.send_json(200, discovery_resources(em, "", "v1"))
        m = re.match(r"^/apis/([^/]+)/([^/]+)$", path)
        if method == "GET" and m:
            return self.send_json(200, discovery_resources(em, m.group(1), m.group(2)))
        if method == "GET" and path == "/version":
            return self.send_json(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-gantry-emulator"})
        r = self.route()
        if r is None:
            return self.send_json(404, status_object(404, "NotFound", "the server could not find the requested resource"))
        plural, ns, name, sub = r
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if method == "GET" and name is None:
            if q.get("watch", ["0"])[0] in ("1", "true"):
                return self.watch(plural, ns, q)
            return self.list(plural, ns, q)
        if method == "GET":
            obj = em.get(em.kinds[plural][2], ns or "", name)
            if obj is None:
                return self.send_json(404, status_object(404, "NotFound", '%s "%s" not found' % (plural, name)))
            return self.send_json(200, obj)
        if method == "DELETE":
            self.read_body()  # DeleteOptions (kubectl sends them): left unread, they would be the next request line
            obj = em.delete(em.kinds[plural][2], ns or "", name)
            if obj is None:
                return self.send_json(404, status_object(404, "NotFound", '%s "%s" not found' % (plural, name)))
            return self.send_json(200, obj)
        body = self.read_body() or {}
        if method == "POST":
            body.setdefault("metadata", {})
            if ns:
                body["metadata"]["namespace"] = ns
            body["kind"] = em.kinds[plural][2]
            if em.get(body["kind"], ns or "", body["metadata"].get("name", "")):
                return self.send_json(409, status_object(409, "AlreadyExists", "already exists"))
            return self.send_json(201, em.apply(body))
        existing = em.get(em.kinds[plural][2], ns or "", name)
        if existing is None and method in ("PATCH",) or (existing is None and sub):
            return self.send_json(404, status_object(404, "NotFound", '%s "%s" not found' % (plural, name)))
        if method == "PUT" and existing is None and plural in NO_CREATE_ON_UPDATE:
            return self.send_json(404, status_object(404, "NotFound", '%s "%s" not found' % (plural, name)))
        if method == "PUT":
            want_rv = (body.get("metadata") or {}).get("resourceVersion")
            if existing and want_rv and want_rv != existing["metadata"]["resourceVersion"]:
                return self.send_json(409, status_object(409, "Conflict", "the object has been modified"))
            if sub == "status":
                existing["status"] = body.get("status", {})
                return self.send_json(200, em.apply(existing))
            body["kind"] = em.kinds[plural][2]
            body.setdefault("metadata", {})["name"] = name
            if ns:
                body["metadata"]["namespace"] = ns
            return self.send_json(200 if existing else 201, em.apply(body, keep_status=plural in em.status_sub))
        if method == "PATCH":
            merged = merge_patch(existing, body)
            merged["metadata"]["name"], merged["kind"] = name, em.kinds[plural][2]
            if sub == "status":
                existing["status"] = merged.get("status", {})
                return self.send_json(200, em.apply(existing))
            return self.send_json(200, em.apply(merged, keep_status=plural in em.status_sub))
        return self.send_json(405, status_object(405, "MethodNotAllowed", "method not allowed"))

    def list(self, plural, ns, q):
        em = self.em
        sel = parse_selector(q.get("labelSelector", [""])[0])
        field = q.get("fieldSelector", [""])[0]
        limit = int(q.get("limit", ["0"])[0] or 0)
        cont = q.get("continue", [""])[0]
        with em.lock:
            if cont:
                try:
                    offset, rv = json.loads(base64.b64decode(cont))
                except ValueError:
                    return self.send_json(400, status_object(400, "BadRequest", "invalid continue token"))
                if rv < em.compacted_rv:
                    return self.send_json(410, status_object(410, "Expired", "the continue token has expired"))
            else:
                offset, rv = 0, em.rv
            items = []
            for (ons, _), obj in sorted(em.objects[plural].items()):
                if ns and ons != ns:
                    continue
                if not selector_matches(sel, obj["metadata"].get("labels")):
                    continue
                if field.startswith("type=") and obj.get("type") != field[5:]:
                    continue
                items.append(copy.deepcopy(obj))
        page = items[offset: offset + limit] if limit else items[offset:]
        meta = {"resourceVersion": str(rv)}
        if limit and offset + limit < len(items):
            meta["continue"] = base64.b64encode(json.dumps([offset + limit, rv]).encode()).decode()
            meta["remainingItemCount"] = len(items) - offset - limit
        for it in page:
            it.pop("kind", None)
            it.pop("apiVersion", None)
        self.send_json(200, {"kind": em.kinds[plural][2] + "List", "apiVersion": em.api_version(plural), "metadata": meta,
                             "items": page})

    def watch(self, plural, ns, q):
        em = self.em
        sel = parse_selector(q.get("labelSelector", [""])[0])
        field = q.get("fieldSelector", [""])[0]
        bookmarks = q.get("allowWatchBookmarks", ["false"])[0] in ("1", "true")
        timeout = float(q.get("timeoutSeconds", ["300"])[0] or 300)
        if em.max_watch_seconds is not None:
            timeout = min(timeout, em.max_watch_seconds)
        since = int(q.get("resourceVersion", ["0"])[0] or 0)
        with em.lock:
            gone = since != 0 and since < em.compacted_rv
            if gone and not em.watch_gone_as_event:
                return self.send_json(410, status_object(410, "Expired", "too old resource version: %d (%d)"
                                                         % (since, em.compacted_rv)))
            generation = em.watch_generation
            em.open_watches += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def send(obj):
            data = json.dumps(obj).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        try:
            if gone:
                send({"type": "ERROR", "object": status_object(410, "Expired", "too old resource version: %d (%d)"
                                                               % (since, em.compacted_rv))})
                return
            last = since if since else em.rv
            deadline = time.time() + timeout
            next_bookmark = time.time() + em.bookmark_interval
            while True:
                with em.lock:
                    pending = em.events_after(plural, last)
                    if not pending:
                        em.lock.wait(0.05)
                        pending = em.events_after(plural, last)
                    dropped = em.watch_generation != generation
                    current = em.rv
                if dropped:
                    return  # cut without a terminating chunk: the client sees a broken stream
                for rv, _, etype, obj in pending:
                    last = rv
                    if ns and obj["metadata"].get("namespace") != ns:
                        continue
                    if not selector_matches(sel, obj["metadata"].get("labels")):
                        continue
                    if field.startswith("type=") and obj.get("type") != field[5:]:
                        continue
                    send({"type": etype, "object": obj})
                if bookmarks and time.time() >= next_bookmark:
                    last = max(last, current)
                    send({"type": "BOOKMARK", "object": {"kind": em.kinds[plural][2], "apiVersion": em.api_version(plural),
                                                         "metadata": {"resourceVersion": str(last)}}})
                    next_bookmark = time.time() + em.bookmark_interval
                if time.time() >= deadline:
                    self.wfile.write(b"0\r\n\r\n")  # the server's timeout: a clean end
                    self.wfile.flush()
                    return
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return
        finally:
            with em.lock:
                em.open_watches -= 1
            self.close_connection = True

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch (also good enough for kubectl's strategic
    merge patches of the fields these tests change)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def kubeconfig(path, em, ca):
    """Writes a kubeconfig for the real kubectl pointing at <em>."""
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: emu\n  cluster:\n    server: %s\n"
                "    certificate-authority: %s\nusers:\n- name: test\n  user:\n    token: %s\n"
                "contexts:\n- name: emu\n  context: {cluster: emu, user: test}\ncurrent-context: emu\n"
                % (em.url, ca, em.token))
    return path


if __name__ == "__main__":  # a standalone emulator for manual runs
    import sys
    e = Emulator(cert=sys.argv[1] if len(sys.argv) > 2 else None, key=sys.argv[2] if len(sys.argv) > 2 else None).start()
    print(e.url, flush=True)
    while True:
        time.sleep(3600)
    os._exit(0)
