// helm-render renders a Helm chart the way `helm template` does, for the
// tests only: this machine (and CI) has no Helm, and static checks of the
// templates never saw them rendered. It runs Go's text/template with the
// sprig functions (the library Helm itself uses, from Debian) plus the
// functions and objects Helm adds, merges values like Helm (values.yaml,
// then each -f file, then --set), validates them against
// values.schema.json with gojsonschema (the validator Helm uses) and prints
// every manifest as `---` + `# Source: <chart>/templates/<file>`.
//
// Usage: helm-render [--name R] [--namespace N] [-f values.yaml]...
//
//	[--set k=v]... [--set-string k=v]... [--kube-version v1.32.0]
//	[--api-versions group/version]... [--skip-crds] CHART_DIR
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	sprig "github.com/Masterminds/sprig/v3"
	"github.com/xeipuuv/gojsonschema"
	"sigs.k8s.io/yaml"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// Values is a plain map so that templates index it as Helm's chartutil.Values.
type Values = map[string]interface{}

// ---- values ----

func readYAMLMap(file string) (Values, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	v := Values{}
	// sigs.k8s.io/yaml goes through JSON, so numbers are float64 and maps
	// are map[string]interface{}: the same types templates see under Helm.
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if v == nil {
		v = Values{}
	}
	return v, nil
}

// merge lays src over dst: maps merge key by key, anything else replaces,
// and a null in src deletes the key (how `--set key=null` or a null in a
// -f file removes a default in Helm).
func merge(dst, src Values) Values {
	for k, sv := range src {
		if sv == nil {
			delete(dst, k)
			continue
		}
		sm, sIsMap := sv.(map[string]interface{})
		dm, dIsMap := dst[k].(map[string]interface{})
		if sIsMap && dIsMap {
			dst[k] = merge(dm, sm)
		} else {
			dst[k] = sv
		}
	}
	return dst
}

// splitUnescaped splits s at sep where sep is not preceded by a backslash
// and not inside {...} (the list syntax of --set).
func splitUnescaped(s string, sep byte) []string {
	var out []string
	var cur strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
			continue
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == sep && depth == 0:
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(out, cur.String())
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// typed turns a --set value into what Helm's strvals makes of it: true,
// false, null and integers are typed, everything else stays a string.
func typed(raw string, asString bool) interface{} {
	if asString {
		return unescape(raw)
	}
	if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
		var list []interface{}
		inner := raw[1 : len(raw)-1]
		if inner != "" {
			for _, item := range splitUnescaped(inner, ',') {
				list = append(list, typed(item, false))
			}
		}
		return list
	}
	switch raw {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	// a leading zero (other than "0") keeps the string, as Helm does for
	// values like 0755 or zip codes
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil && (raw == "0" || !strings.HasPrefix(strings.TrimPrefix(raw, "-"), "0")) {
		return n
	}
	return unescape(raw)
}

// setPath assigns val at a dotted key with optional [i] list indexes.
func setPath(root Values, key string, val interface{}) error {
	parts := splitUnescaped(key, '.')
	var cur interface{} = root
	for i, p := range parts {
		p = unescape(p)
		name, idxs := p, []int{}
		if j := strings.IndexByte(p, '['); j >= 0 {
			name = p[:j]
			for _, ix := range strings.Split(strings.TrimSuffix(p[j+1:], "]"), "][") {
				n, err := strconv.Atoi(ix)
				if err != nil || n < 0 {
					return fmt.Errorf("--set %s: bad list index %q", key, ix)
				}
				idxs = append(idxs, n)
			}
		}
		last := i == len(parts)-1
		m, ok := cur.(map[string]interface{})
		if !ok {
			return fmt.Errorf("--set %s: %s is not a map", key, strings.Join(parts[:i], "."))
		}
		if len(idxs) == 0 {
			if last {
				if val == nil {
					delete(m, name)
				} else {
					m[name] = val
				}
				return nil
			}
			if _, isMap := m[name].(map[string]interface{}); !isMap {
				m[name] = map[string]interface{}{}
			}
			cur = m[name]
			continue
		}
		// name[i][j]...: grow the lists as needed
		list, _ := m[name].([]interface{})
		holder := func(l []interface{}) { m[name] = l }
		for k, n := range idxs {
			for len(list) <= n {
				list = append(list, nil)
			}
			holder(list)
			if k == len(idxs)-1 {
				if last {
					list[n] = val
					return nil
				}
				if _, isMap := list[n].(map[string]interface{}); !isMap {
					list[n] = map[string]interface{}{}
				}
				cur = list[n]
				break
			}
			inner, _ := list[n].([]interface{})
			outer, at := list, n
			holder = func(l []interface{}) { outer[at] = l }
			list = inner
		}
	}
	return nil
}

func applySet(vals Values, expr string, asString bool) error {
	for _, kv := range splitUnescaped(expr, ',') {
		if kv == "" {
			continue
		}
		eq := strings.IndexByte(kv, '=')
		if eq < 0 {
			return fmt.Errorf("--set %q: key=value expected", kv)
		}
		if err := setPath(vals, kv[:eq], typed(kv[eq+1:], asString)); err != nil {
			return err
		}
	}
	return nil
}

// ---- schema ----

func validate(chartName, schemaFile string, vals Values) error {
	data, err := os.ReadFile(schemaFile)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		return err
	}
	// the document goes through JSON so that --set's int64 and the YAML
	// files' float64 are both plain JSON numbers to the validator
	doc, err := json.Marshal(vals)
	if err != nil {
		return err
	}
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(data), gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return fmt.Errorf("%s: %v", schemaFile, err)
	}
	if res.Valid() {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n", chartName)
	for _, e := range res.Errors() {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	return errors.New(strings.TrimSuffix(b.String(), "\n"))
}

// ---- the objects templates see ----

type KubeVersion struct {
	Version, Major, Minor, GitVersion string
}

func (k KubeVersion) String() string { return k.Version }

type VersionSet []string

// Has answers both "group/version" and "group/version/Kind", as Helm's does.
func (v VersionSet) Has(s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// Files is the chart's non-template files, as .Files in Helm.
type Files map[string][]byte

func (f Files) GetBytes(name string) []byte { return f[name] }
func (f Files) Get(name string) string      { return string(f[name]) }
func (f Files) Lines(name string) []string {
	s := strings.TrimSuffix(string(f[name]), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
func (f Files) Glob(pattern string) Files {
	out := Files{}
	for k, v := range f {
		if ok, _ := path.Match(pattern, k); ok {
			out[k] = v
		}
	}
	return out
}
func (f Files) AsConfig() string {
	m := map[string]string{}
	for k, v := range f {
		m[path.Base(k)] = string(v)
	}
	return toYAML(m)
}
func (f Files) AsSecrets() string {
	m := map[string][]byte{} // []byte marshals as base64, which is what a Secret's data wants
	for k, v := range f {
		m[path.Base(k)] = v
	}
	return toYAML(m)
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "" // Helm's toYaml also swallows the error into an empty string
	}
	return strings.TrimSuffix(string(data), "\n")
}

// builtin group/versions of Kubernetes 1.32 that charts commonly test with
// .Capabilities.APIVersions.Has; CRD-provided ones come from --api-versions.
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "autoscaling/v1", "autoscaling/v2", "policy/v1",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "coordination.k8s.io/v1",
	"discovery.k8s.io/v1", "apiextensions.k8s.io/v1", "admissionregistration.k8s.io/v1",
	"storage.k8s.io/v1", "scheduling.k8s.io/v1", "certificates.k8s.io/v1", "events.k8s.io/v1",
	"apps/v1/Deployment", "apps/v1/DaemonSet", "policy/v1/PodDisruptionBudget",
	"networking.k8s.io/v1/Ingress", "networking.k8s.io/v1/IngressClass",
	"autoscaling/v2/HorizontalPodAutoscaler",
}

// install order of the kinds this chart (and charts like it) produce, so
// that `kubectl apply -f` of the output creates what others refer to first.
var kindOrder = []string{
	"Namespace", "CustomResourceDefinition", "PriorityClass", "ServiceAccount", "Secret", "ConfigMap",
	"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "DaemonSet", "Deployment",
	"StatefulSet", "Job", "HorizontalPodAutoscaler", "PodDisruptionBudget", "IngressClass", "Ingress",
	"GatewayClass", "Gateway",
}

func kindRank(kind string) int {
	for i, k := range kindOrder {
		if k == kind {
			return i
		}
	}
	return len(kindOrder)
}

// ---- chart ----

// chartMeta maps Chart.yaml's keys to the field names templates use
// (.Chart.Name, .Chart.AppVersion, ...).
func chartMeta(file string) (map[string]interface{}, error) {
	raw, err := readYAMLMap(file)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	for k, v := range raw {
		switch k {
		case "apiVersion":
			out["APIVersion"] = v
		case "appVersion":
			out["AppVersion"] = v
		case "kubeVersion":
			out["KubeVersion"] = v
		default:
			out[strings.ToUpper(k[:1])+k[1:]] = v
		}
	}
	for _, k := range []string{"Name", "Version", "AppVersion", "Description", "Type"} {
		if _, ok := out[k]; !ok {
			out[k] = ""
		}
	}
	return out, nil
}

// helmignore reads .helmignore: one glob a line, matched against the path
// and against the base name; a trailing "/" matches directories only; "!"
// negates. Files it names are not part of the chart (not in .Files, not
// rendered), as when Helm packages or loads it.
func helmignore(file string) func(rel string, dir bool) bool {
	data, _ := os.ReadFile(file)
	type rule struct {
		glob         string
		dirOnly, neg bool
	}
	var rules []rule
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := rule{}
		if strings.HasPrefix(line, "!") {
			r.neg, line = true, line[1:]
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly, line = true, strings.TrimSuffix(line, "/")
		}
		r.glob = strings.TrimPrefix(line, "/")
		rules = append(rules, r)
	}
	return func(rel string, dir bool) bool {
		out := false
		for _, r := range rules {
			if r.dirOnly && !dir {
				continue
			}
			full, _ := path.Match(r.glob, rel)
			base, _ := path.Match(r.glob, path.Base(rel))
			if full || base {
				out = !r.neg
			}
		}
		return out
	}
}

type manifest struct {
	source, body, kind string
	order              int
}

func main() {
	var files, sets, setStrings, apiVersions multi
	name := flag.String("name", "gantry", "release name")
	ns := flag.String("namespace", "default", "release namespace")
	kube := flag.String("kube-version", "v1.32.0", "Kubernetes version for .Capabilities")
	skipCRDs := flag.Bool("skip-crds", false, "do not print crds/")
	flag.Var(&files, "f", "values file (repeatable)")
	flag.Var(&files, "values", "values file (repeatable)")
	flag.Var(&sets, "set", "key=value (repeatable)")
	flag.Var(&setStrings, "set-string", "key=value kept as a string (repeatable)")
	flag.Var(&apiVersions, "api-versions", "extra group/version for .Capabilities (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: helm-render [flags] CHART_DIR")
		os.Exit(2)
	}
	out, err := render(flag.Arg(0), *name, *ns, *kube, files, sets, setStrings, apiVersions, *skipCRDs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}

func render(dir, release, ns, kube string, files, sets, setStrings, apiVersions []string, skipCRDs bool) (string, error) {
	chart, err := chartMeta(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return "", err
	}
	chartName, _ := chart["Name"].(string)
	vals := Values{}
	if _, err := os.Stat(filepath.Join(dir, "values.yaml")); err == nil {
		if vals, err = readYAMLMap(filepath.Join(dir, "values.yaml")); err != nil {
			return "", err
		}
	}
	for _, f := range files {
		over, err := readYAMLMap(f)
		if err != nil {
			return "", err
		}
		vals = merge(vals, over)
	}
	for _, s := range sets {
		if err := applySet(vals, s, false); err != nil {
			return "", err
		}
	}
	for _, s := range setStrings {
		if err := applySet(vals, s, true); err != nil {
			return "", err
		}
	}
	if err := validate(chartName, filepath.Join(dir, "values.schema.json"), vals); err != nil {
		return "", err
	}

	major, minor := "1", "32"
	if p := strings.SplitN(strings.TrimPrefix(kube, "v"), ".", 3); len(p) >= 2 {
		major, minor = p[0], p[1]
	}
	caps := Capabilities{
		KubeVersion: KubeVersion{Version: kube, Major: major, Minor: minor, GitVersion: kube},
		APIVersions: append(append(VersionSet{}, defaultAPIVersions...), apiVersions...),
		HelmVersion: map[string]string{"Version": "v3-helm-render"},
	}
	chartFiles := Files{}
	var templates []string
	var crds []string
	ignored := helmignore(filepath.Join(dir, ".helmignore"))
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel != "." && ignored(rel, info.IsDir()) {
			if info.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if info.IsDir() {
			if rel == "charts" {
				return filepath.SkipDir // subcharts: this chart has none; say so rather than ignore them
			}
			return nil
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			templates = append(templates, rel)
		case strings.HasPrefix(rel, "crds/"):
			crds = append(crds, rel)
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == "values.schema.json" || rel == ".helmignore":
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			chartFiles[rel] = data
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(templates)
	sort.Strings(crds)

	// one template set holds every file, so that a define in _helpers.tpl
	// is visible from every manifest, as in Helm
	root := template.New("chart")
	var includeDepth int
	funcs := sprig.TxtFuncMap()
	// Helm removes these two: a chart must not read the renderer's environment
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["fromYamlArray"] = func(s string) []interface{} {
		var a []interface{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	funcs["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	// no cluster to ask: `helm template` also answers lookup with an empty map
	funcs["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		includeDepth++
		defer func() { includeDepth-- }()
		if includeDepth > 1000 {
			return "", fmt.Errorf("include %q: too deeply nested (recursive define?)", name)
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		// a clone keeps the chart's defines callable from the string while
		// the string's own defines do not leak into the chart
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	root.Funcs(funcs).Option("missingkey=zero")
	for _, rel := range templates {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return "", err
		}
		if _, err := root.New(chartName + "/" + rel).Parse(string(data)); err != nil {
			return "", err
		}
	}

	var out []manifest
	for _, rel := range crds {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			return "", err
		}
		if skipCRDs {
			continue
		}
		for _, doc := range splitDocs(string(data)) {
			out = append(out, manifest{source: chartName + "/" + rel, body: doc, order: -1})
		}
	}
	for _, rel := range templates {
		base := path.Base(rel)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" || !(strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml") || strings.HasSuffix(base, ".tpl") || strings.HasSuffix(base, ".txt")) {
			continue // partials and NOTES.txt are not manifests
		}
		tname := chartName + "/" + rel
		top := map[string]interface{}{
			"Values":       vals,
			"Chart":        chart,
			"Capabilities": caps,
			"Files":        chartFiles,
			"Release": map[string]interface{}{
				"Name": release, "Namespace": ns, "Service": "Helm", "IsInstall": true, "IsUpgrade": false,
				"Revision": 1,
			},
			"Template": map[string]interface{}{"Name": tname, "BasePath": chartName + "/templates"},
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, tname, top); err != nil {
			return "", err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		for _, doc := range splitDocs(text) {
			m := manifest{source: tname, body: doc}
			var head struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				return "", fmt.Errorf("%s: rendered YAML does not parse: %v\n%s", tname, err, doc)
			}
			m.kind = head.Kind
			m.order = kindRank(head.Kind)
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].order < out[j].order })
	var b strings.Builder
	for _, m := range out {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.source, m.body)
	}
	return b.String(), nil
}

// splitDocs splits a rendered file at `---` lines and drops documents that
// are only whitespace and comments, as Helm does with a template whose
// condition is false.
func splitDocs(text string) []string {
	var docs []string
	var cur []string
	flush := func() {
		body := strings.Trim(strings.Join(cur, "\n"), "\n")
		cur = nil
		meaningful := false
		for _, l := range strings.Split(body, "\n") {
			t := strings.TrimSpace(l)
			if t != "" && !strings.HasPrefix(t, "#") {
				meaningful = true
				break
			}
		}
		if meaningful {
			docs = append(docs, strings.TrimRight(body, " \n"))
		}
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimRight(l, " ") == "---" || strings.HasPrefix(l, "--- ") {
			flush()
			continue
		}
		cur = append(cur, l)
	}
	flush()
	return docs
}
