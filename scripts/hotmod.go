// Command hotmod knows the Go modules of this repository and their
// versions: it sets their requirements on each other, names the tag each
// one is released under, and packs them into a module proxy directory. The
// release script and the consumer check both use it, so a version is
// spelled one way everywhere.
//
//	go run scripts/hotmod.go list VERSION           # path, version, tag and directory of every module
//	go run scripts/hotmod.go require VERSION        # each module requires its siblings at VERSION
//	go run scripts/hotmod.go proxy VERSION DIR      # DIR serves every module at VERSION (GOPROXY=file://DIR)
//
// It runs in the root of a tree holding go.work, whose use directives are
// the modules. VERSION is a hotstate version, v0.MINOR.PATCH with an
// optional pre-release. A module whose path ends in a major version, such
// as adapters/echo/v5 (for Echo v5), carries that major with hotstate's
// minor and patch: v5.MINOR.PATCH, tagged adapters/echo/v5.MINOR.PATCH.
//
// require keeps a replace directive from every module to each sibling it
// reaches, adding those that are missing, so that each module still builds
// alone (GOWORK=off) from the tree; a module used as a dependency has its
// replace directives ignored, and gets its siblings at VERSION.
//
// proxy writes the layout the go command reads from GOPROXY=file://DIR:
// DIR/<module>/@v/list, VERSION.info, VERSION.mod and VERSION.zip, each zip
// holding what `go mod download` would fetch from a tag of this tree: the
// module's directory without nested modules, plus the repository's
// LICENSE when the module has none of its own.
package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hotmod:", err)
		os.Exit(1)
	}
}

const usage = "usage: hotmod list VERSION | require VERSION | proxy VERSION DIR"

func run(args []string) error {
	if len(args) < 2 {
		return errors.New(usage)
	}
	version := args[1]
	if !hotstateVersion.MatchString(version) {
		return fmt.Errorf("version %q is not v0.MINOR.PATCH[-PRERELEASE]", version)
	}
	mods, err := modules(version)
	if err != nil {
		return err
	}
	switch {
	case args[0] == "list" && len(args) == 2:
		for _, m := range mods {
			fmt.Printf("%s\t%s\t%s\t%s\n", m.Path, m.Version, m.Tag, m.Dir)
		}
		return nil
	case args[0] == "require" && len(args) == 2:
		return require(mods)
	case args[0] == "proxy" && len(args) == 3:
		return proxy(mods, args[2])
	}
	return errors.New(usage)
}

// hotstateVersion is a release of hotstate: v0 until its API is stable.
var hotstateVersion = regexp.MustCompile(`^v0\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// majorSuffix is the major version at the end of a module path.
var majorSuffix = regexp.MustCompile(`/v([2-9]|[1-9][0-9]+)$`)

// module is one module of the tree at the version being made.
type module struct {
	Path    string // module path
	Dir     string // directory, relative to the root, slash-separated
	Version string // VERSION, or its major-suffixed form
	Tag     string // the git tag it is released under
	Require []string
	Replace map[string]string // module path to replacement directory
}

// modules reads go.work and each module's go.mod.
func modules(version string) ([]*module, error) {
	var work struct{ Use []struct{ DiskPath string } }
	if err := goJSON(".", &work, "work", "edit", "-json"); err != nil {
		return nil, err
	}
	var mods []*module
	for _, u := range work.Use {
		dir := path.Clean(filepath.ToSlash(u.DiskPath))
		var gomod struct {
			Module  struct{ Path string }
			Require []struct{ Path string }
			Replace []struct{ Old, New struct{ Path string } }
		}
		if err := goJSON(dir, &gomod, "mod", "edit", "-json"); err != nil {
			return nil, err
		}
		m := &module{Path: gomod.Module.Path, Dir: dir, Version: version, Replace: map[string]string{}}
		subdir := dir
		if major := majorSuffix.FindStringSubmatch(m.Path); major != nil {
			// v0.MINOR.PATCH becomes vMAJOR.MINOR.PATCH, and a module in a
			// major subdirectory (adapters/echo/v5) is tagged without it.
			m.Version = "v" + major[1] + strings.TrimPrefix(version, "v0")
			subdir = strings.TrimSuffix(subdir, "/v"+major[1])
		}
		m.Tag = subdir + "/" + m.Version
		for _, r := range gomod.Require {
			m.Require = append(m.Require, r.Path)
		}
		for _, r := range gomod.Replace {
			m.Replace[r.Old.Path] = r.New.Path
		}
		mods = append(mods, m)
	}
	// Every module must sit where its path says, under one repository
	// root, or the go command would not find it at its tag.
	for _, m := range mods {
		root, ok := strings.CutSuffix(m.Path, "/"+m.Dir)
		if want, _ := strings.CutSuffix(mods[0].Path, "/"+mods[0].Dir); !ok || root != want {
			return nil, fmt.Errorf("module %s is in %s, not where its path says", m.Path, m.Dir)
		}
	}
	return mods, nil
}

func goJSON(dir string, v any, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go %s in %s: %w", strings.Join(args, " "), dir, err)
	}
	return json.Unmarshal(out, v)
}

// require sets every requirement of a module on a sibling to the sibling's
// version, and gives it a replace directive for each sibling it reaches.
func require(mods []*module) error {
	byPath := map[string]*module{}
	for _, m := range mods {
		byPath[m.Path] = m
	}
	for _, m := range mods {
		var edits []string
		for _, r := range m.Require {
			if s := byPath[r]; s != nil {
				edits = append(edits, "-require="+s.Path+"@"+s.Version)
			}
		}
		for _, s := range reached(m, byPath) {
			if _, ok := m.Replace[s.Path]; !ok {
				rel, err := filepath.Rel(m.Dir, s.Dir)
				if err != nil {
					return err
				}
				edits = append(edits, "-replace="+s.Path+"="+filepath.ToSlash(rel))
			}
		}
		if len(edits) == 0 {
			continue
		}
		cmd := exec.Command("go", append([]string{"mod", "edit"}, edits...)...)
		cmd.Dir = m.Dir
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go mod edit in %s: %w", m.Dir, err)
		}
	}
	return nil
}

// reached returns the siblings m requires, directly or through siblings.
func reached(m *module, byPath map[string]*module) []*module {
	seen := map[string]bool{m.Path: true}
	var out []*module
	queue := []*module{m}
	for len(queue) > 0 {
		next := queue[0]
		queue = queue[1:]
		for _, r := range next.Require {
			if s := byPath[r]; s != nil && !seen[r] {
				seen[r] = true
				out = append(out, s)
				queue = append(queue, s)
			}
		}
	}
	return out
}

// proxy writes every module at its version into dir as a file-based
// module proxy.
func proxy(mods []*module, dir string) error {
	license, err := os.ReadFile("LICENSE")
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, m := range mods {
		at := filepath.Join(dir, escape(m.Path), "@v")
		if err := os.MkdirAll(at, 0o755); err != nil {
			return err
		}
		gomod, err := os.ReadFile(filepath.Join(m.Dir, "go.mod"))
		if err != nil {
			return err
		}
		info, err := json.Marshal(struct {
			Version string
			Time    time.Time
		}{m.Version, now})
		if err != nil {
			return err
		}
		var z bytes.Buffer
		if err := pack(&z, m, license); err != nil {
			return fmt.Errorf("packing %s: %w", m.Path, err)
		}
		files := map[string][]byte{
			"list":                      []byte(m.Version + "\n"),
			escape(m.Version) + ".info": info,
			escape(m.Version) + ".mod":  gomod,
			escape(m.Version) + ".zip":  z.Bytes(),
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(at, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// pack writes the zip of m's files the go command expects: every regular
// file under its directory, named module@version/path, except those of
// nested modules and version control; the repository's LICENSE stands in
// for a missing one, as the go command does for a module fetched from a
// repository subdirectory.
func pack(w io.Writer, m *module, license []byte) error {
	zw := zip.NewWriter(w)
	prefix := m.Path + "@" + m.Version + "/"
	var names []string
	err := filepath.WalkDir(m.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(p)
		if d.IsDir() && rel != m.Dir {
			if slices.Contains([]string{".git", ".hg", ".svn", ".bzr"}, d.Name()) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // a nested module
			}
			return nil
		}
		if !d.Type().IsRegular() { // the root itself, links, devices
			return nil
		}
		names = append(names, strings.TrimPrefix(rel, m.Dir+"/"))
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(m.Dir, name))
		if err != nil {
			return err
		}
		if err := add(zw, prefix+name, b); err != nil {
			return err
		}
	}
	if !slices.Contains(names, "LICENSE") {
		if err := add(zw, prefix+"LICENSE", license); err != nil {
			return err
		}
	}
	return zw.Close()
}

func add(zw *zip.Writer, name string, b []byte) error {
	f, err := zw.Create(name)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return err
}

// escape is the module proxy's case encoding: an upper-case letter becomes
// '!' and the letter in lower case.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
