package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration: where it is and why.
type Problem struct {
	File string // empty for a configuration not read from a file
	Line int    // 0 when the key is absent from the file (a default)
	Path string // e.g. servers[2].ws-reverse.universal
	Msg  string
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found in a configuration, in file order.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "\n")
}

// ErrNotFound is wrapped by Load when the file does not exist.
var ErrNotFound = errors.New("config file not found")

// Load reads, decodes and validates the file at path. getenv resolves
// ${VAR} references and the YUNHU_TOKEN override; nil means os.Getenv.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, getenv)
}

// Parse decodes data onto Default() and validates the result. name is
// used in problem reports.
func Parse(name string, data []byte, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg := Default()
	d := &decoder{file: name, getenv: getenv, lines: map[string]int{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{Problems: []Problem{{File: name, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	if len(root.Content) > 0 {
		d.decode(root.Content[0], reflect.ValueOf(&cfg).Elem(), "")
	}
	if tok := getenv("YUNHU_TOKEN"); tok != "" {
		cfg.Account.Token = tok
	}
	if tok := getenv("WUKONGIM_TOKEN"); tok != "" {
		cfg.WuKongIM.Token = tok
	}
	for name, dst := range map[string]*string{
		"WILDFIRE_ROBOT_SECRET":    &cfg.Wildfire.RobotSecret,
		"WILDFIRE_ADMIN_SECRET":    &cfg.Wildfire.AdminSecret,
		"WILDFIRE_CALLBACK_SECRET": &cfg.Wildfire.Callback.PathSecret,
	} {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	d.defaultServers(&cfg)
	cfg.validate(d.report)
	if len(d.problems) > 0 {
		// File order reads best; problems with no line (defaults) go last.
		slices.SortStableFunc(d.problems, func(a, b Problem) int {
			return cmp.Compare(lineOrder(a.Line), lineOrder(b.Line))
		})
		return nil, &Error{Problems: d.problems}
	}
	cfg.Warnings = append(d.warnings, cfg.exposed(d.warn)...)
	slices.SortStableFunc(cfg.Warnings, func(a, b Problem) int {
		return cmp.Compare(lineOrder(a.Line), lineOrder(b.Line))
	})
	return &cfg, nil
}

func lineOrder(line int) int {
	if line == 0 {
		return math.MaxInt
	}
	return line
}

// Validate checks a configuration built in code (no file, so no lines).
func (c *Config) Validate() error {
	var problems []Problem
	c.validate(func(path, msg string) {
		problems = append(problems, Problem{Path: path, Msg: msg})
	})
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	return nil
}

// decoder walks the YAML tree onto Go values itself, rather than through
// yaml.Unmarshal, so that every problem carries its key path and line and
// so that all problems are found in one pass.
type decoder struct {
	file     string
	getenv   func(string) string
	lines    map[string]int // key path -> line of its value
	problems []Problem
	warnings []Problem
}

func (d *decoder) add(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// report records a validation problem at the line its key was read from,
// or, for a key left out, at the line of the nearest enclosing key.
func (d *decoder) report(path, msg string) {
	d.problems = append(d.problems, d.problem(path, msg))
}

// warn is report for a warning.
func (d *decoder) warn(path, msg string) Problem { return d.problem(path, msg) }

func (d *decoder) problem(path, msg string) Problem {
	line := 0
	for p := path; p != "" && line == 0; p = parent(p) {
		line = d.lines[p]
	}
	return Problem{File: d.file, Line: line, Path: path, Msg: msg}
}

// parent strips the last element from a key path: a.b[2].c -> a.b[2] -> a.b.
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	if isNull(n) && v.Kind() != reflect.String {
		// "key:" with nothing after it keeps the default, as in go-cqhttp.
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(newDefault(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.add(n, path, "expected a list, got %s", describe(n))
			return
		}
		out := reflect.MakeSlice(v.Type(), 0, len(n.Content))
		for i, item := range n.Content {
			elem := newDefault(v.Type().Elem()).Elem()
			d.decode(item, elem, fmt.Sprintf("%s[%d]", path, i))
			out = reflect.Append(out, elem)
		}
		v.Set(out)
	case reflect.String, reflect.Int, reflect.Bool:
		d.decodeScalar(n, v, path)
	default:
		panic("config: unsupported field type " + v.Type().String())
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(n, path, "expected a mapping of keys, got %s", describe(n))
		return
	}
	t := v.Type()
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		if seen[key] {
			d.add(k, join(path, key), "key given twice")
			continue
		}
		seen[key] = true
		d.lines[join(path, key)] = k.Line
		field := -1
		for j := 0; j < t.NumField(); j++ {
			if tagName(t.Field(j)) == key {
				field = j
				break
			}
		}
		if field < 0 {
			msg := "unknown key"
			if h := goCQHint(path, key); h != "" {
				msg += " (" + h + ")"
			} else if s := suggest(key, t); s != "" {
				msg += " (did you mean " + s + "?)"
			} else if h := goCQSection(path, key); h != "" {
				msg += " (" + h + ")"
			}
			d.add(k, join(path, key), "%s", msg)
			continue
		}
		d.decode(val, v.Field(field), join(path, key))
	}
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.add(n, path, "expected a single value, got %s", describe(n))
		return
	}
	text, unset, err := expand(n.Value, d.getenv)
	if err != nil {
		d.add(n, path, "%v", err)
		return
	}
	for _, name := range unset {
		d.warnings = append(d.warnings, Problem{File: d.file, Line: n.Line, Path: path,
			Msg: "${" + name + "} is not set in the environment, so this is empty"})
	}
	switch v.Kind() {
	case reflect.String:
		if isNull(n) {
			text = ""
		}
		v.SetString(text)
	case reflect.Int:
		i, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil {
			d.add(n, path, "expected a whole number, got %q", text)
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		b, ok := parseBool(text)
		if !ok {
			d.add(n, path, "expected true or false, got %q", text)
			return
		}
		v.SetBool(b)
	}
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	return false, false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(n.Value)
	}
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// newDefault returns a pointer to a new value of type t holding the
// defaults for a list item or a servers entry.
func newDefault(t reflect.Type) reflect.Value {
	switch t {
	case reflect.TypeFor[HTTPServer]():
		return reflect.ValueOf(defaultHTTPServer())
	case reflect.TypeFor[WSServer]():
		return reflect.ValueOf(defaultWSServer())
	case reflect.TypeFor[WSReverse]():
		return reflect.ValueOf(defaultWSReverse())
	case reflect.TypeFor[HTTPPost]():
		p := defaultHTTPPost()
		return reflect.ValueOf(&p)
	}
	return reflect.New(t)
}

// suggest names the key of t closest to a misspelt one, if any is close.
func suggest(key string, t reflect.Type) string {
	best, bestDist := "", 3
	for j := 0; j < t.NumField(); j++ {
		name := tagName(t.Field(j))
		if name == "-" {
			continue
		}
		if dist := editDistance(key, name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// expand replaces ${VAR}, ${VAR:-default} and ${VAR:default} with values
// from getenv; a default applies when the variable is unset or empty.
// unset names the variables that were empty and had no default.
func expand(s string, getenv func(string) string) (out string, unset []string, err error) {
	if !strings.Contains(s, "${") {
		return s, nil, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), unset, nil
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", nil, fmt.Errorf("unterminated ${ in %q", s)
		}
		expr := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(expr, ":")
		if hasDef {
			def = strings.TrimPrefix(def, "-")
		}
		if name == "" {
			return "", nil, fmt.Errorf("empty variable name in %q", s)
		}
		val := getenv(name)
		if val == "" && hasDef {
			val = def
		} else if val == "" {
			unset = append(unset, name)
		}
		b.WriteString(val)
		s = s[i+end+1:]
	}
}
