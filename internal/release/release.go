// Package release makes the action.yml of a release: main's action.yml
// with runs.image switched from the Dockerfile to the image the release
// workflow published, so that a run of the action pulls one image instead
// of building the Dockerfile. Main keeps the Dockerfile so that `uses: ./`
// and CI run the source.
package release

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// imageRE is what a released action.yml may point at: our GHCR image by
// its immutable version tag or by digest, never a moving tag such as
// :latest or :1 (owners on GHCR are lower case).
var imageRE = regexp.MustCompile(`^ghcr\.io/[a-z0-9](?:[a-z0-9-]*[a-z0-9])?/natsbench-action(?::[0-9]+\.[0-9]+\.[0-9]+|@sha256:[0-9a-f]{64})$`)

// CheckImage reports whether ref (without the docker:// scheme) is an
// image reference a release may point at.
func CheckImage(ref string) error {
	if !imageRE.MatchString(ref) {
		return fmt.Errorf("image %q is not ghcr.io/<owner>/natsbench-action:X.Y.Z or ghcr.io/<owner>/natsbench-action@sha256:<digest>", ref)
	}
	return nil
}

// ImageOf returns the image reference of a released action.yml's
// runs.image (docker://ghcr.io/...), checked like CheckImage.
func ImageOf(actionYAML []byte) (string, error) {
	i, err := runsImageLine(bytes.Split(actionYAML, []byte("\n")))
	if err != nil {
		return "", err
	}
	_, v, _ := strings.Cut(string(i.line), "image:")
	v = strings.Trim(strings.TrimSpace(v), `'"`)
	ref, ok := strings.CutPrefix(v, "docker://")
	if !ok {
		return "", fmt.Errorf("runs.image %q does not start with docker://", v)
	}
	return ref, CheckImage(ref)
}

// Render returns src, an action.yml, with its runs.image line pointing at
// docker://image. Every other line stays as it is, comments included, so
// the released inputs and outputs are main's.
func Render(src []byte, image string) ([]byte, error) {
	if err := CheckImage(image); err != nil {
		return nil, fmt.Errorf("rendering action.yml: %w", err)
	}
	lines := bytes.Split(src, []byte("\n"))
	img, err := runsImageLine(lines)
	if err != nil {
		return nil, fmt.Errorf("rendering action.yml: %w", err)
	}
	indent := img.line[:len(img.line)-len(bytes.TrimLeft(img.line, " "))]
	out := make([][]byte, len(lines))
	copy(out, lines)
	out[img.index] = []byte(string(indent) + "image: 'docker://" + image + "'")
	return bytes.Join(out, []byte("\n")), nil
}

type imageLine struct {
	index int
	line  []byte
}

// runsImageLine finds the one image: line of a docker action's top-level
// runs: block. The file is handled as lines, not re-encoded, because a
// YAML round trip would lose the comments and quoting of main's file.
func runsImageLine(lines [][]byte) (imageLine, error) {
	var (
		inRuns, docker bool
		found          []imageLine
	)
	for i, l := range lines {
		s := string(l)
		if strings.Contains(s, "\t") {
			return imageLine{}, fmt.Errorf("line %d: a tab in action.yml", i+1)
		}
		trimmed := strings.TrimSpace(s)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if !strings.HasPrefix(s, " ") { // a top-level key
			inRuns = strings.HasPrefix(s, "runs:")
			if inRuns && strings.TrimSpace(strings.TrimPrefix(s, "runs:")) != "" {
				return imageLine{}, errors.New("runs: must be a block, one key a line")
			}
			continue
		}
		if !inRuns {
			continue
		}
		key, val, _ := strings.Cut(trimmed, ":")
		switch key {
		case "using":
			docker = strings.Trim(strings.TrimSpace(val), `'"`) == "docker"
		case "image":
			found = append(found, imageLine{i, l})
		}
	}
	switch {
	case !docker:
		return imageLine{}, errors.New("runs.using is not docker")
	case len(found) == 0:
		return imageLine{}, errors.New("no runs.image")
	case len(found) > 1:
		return imageLine{}, fmt.Errorf("%d image: lines under runs:", len(found))
	}
	return found[0], nil
}
