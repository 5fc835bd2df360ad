// Command gotemplate renders a Go text/template with the sprig function map, the way sealos renders rootfs
// templates (missingkey=default, env keys as top-level fields), so the Python renderer can be checked against it.
//
// Usage: gotemplate TEMPLATE_FILE ENV_JSON_FILE   (the render goes to stdout; a parse or exec error exits 2)
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

// extraFuncs are the helpers sealos adds on top of sprig; toYaml trims the trailing newline as sealos and helm do.
func extraFuncs() template.FuncMap {
	return template.FuncMap{
		"toYaml": func(v interface{}) string {
			out, err := yaml.Marshal(v)
			if err != nil {
				return ""
			}
			return strings.TrimSuffix(string(out), "\n")
		},
		"toJson": func(v interface{}) string {
			out, err := json.Marshal(v)
			if err != nil {
				return ""
			}
			return string(out)
		},
	}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gotemplate TEMPLATE_FILE ENV_JSON_FILE")
		os.Exit(64)
	}
	text, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	env := map[string]interface{}{}
	if err := json.Unmarshal(raw, &env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	funcs := sprig.TxtFuncMap()
	for k, v := range extraFuncs() {
		funcs[k] = v
	}
	tpl, err := template.New(os.Args[1]).Option("missingkey=default").Funcs(funcs).Parse(string(text))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := tpl.Execute(os.Stdout, env); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}
