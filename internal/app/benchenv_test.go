package app

import (
	"reflect"
	"testing"
)

// TestBenchEnvDropsFileCommands: the benchmarked code gets none of the
// file commands' paths nor any ACTIONS_* variable (issue 11, item 5).
func TestBenchEnvDropsFileCommands(t *testing.T) {
	got := benchEnv([]string{
		"PATH=/usr/bin",
		"GITHUB_ENV=/github/file_commands/set_env_1",
		"GITHUB_PATH=/github/file_commands/add_path_1",
		"GITHUB_OUTPUT=/github/file_commands/set_output_1",
		"GITHUB_STATE=/github/file_commands/save_state_1",
		"GITHUB_STEP_SUMMARY=/github/file_commands/step_summary_1",
		"ACTIONS_CACHE_URL=https://x",
		"ACTIONS_RESULTS_URL=https://x",
		"INPUT_BENCH=.",
		"GITHUB_WORKSPACE=/github/workspace",
	}, "")
	want := []string{"PATH=/usr/bin", "GITHUB_WORKSPACE=/github/workspace"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("benchEnv = %v, want %v", got, want)
	}
}
