package apptest

// Helpers for tests that run the real intake binary as child processes
// (crash safety: SIGKILL and SIGTERM mid-sync, restarts on the same
// database).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BuildIntake builds the intake command (the module's main package) into
// dir and returns the binary's path.
func BuildIntake(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "intake")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/intake/intake")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build github.com/intake/intake: %v\n%s", err, out)
	}
	return bin
}

// ChildEnv is the whole environment of a child process: vars plus what any
// process needs (PATH, HOME, TMPDIR). Nothing else is inherited, so a
// DATABASE_URL or INTAKE_* of the developer's shell cannot leak in.
func ChildEnv(vars map[string]string) []string {
	env := []string{}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// RunIntake runs a short intake command (migrate, apikey create) to its end
// and returns its standard output.
func RunIntake(t testing.TB, bin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("intake %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// Child is an intake command running as a child process of the test. Its
// output is kept and written to the test log if the test fails.
type Child struct {
	Name   string
	cmd    *exec.Cmd
	stdout *Logs
	stderr *Logs
	done   chan struct{} // closed when the process has exited
	state  *os.ProcessState
	err    error // Wait's error
}

// StartChild starts bin with args and env. The child is killed when the
// test ends if it still runs.
func StartChild(t testing.TB, name, bin string, env []string, args ...string) *Child {
	t.Helper()
	c := &Child{Name: name, stdout: &Logs{}, stderr: &Logs{}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		c.state = c.cmd.ProcessState
		close(c.done)
	}()
	t.Cleanup(func() {
		if !c.Exited() {
			_ = c.cmd.Process.Kill()
			select {
			case <-c.done:
			case <-time.After(10 * time.Second):
				t.Logf("%s (pid %d) did not exit after SIGKILL", c.Name, c.cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("--- %s (pid %d) %s\nstdout:\n%s\nstderr:\n%s", c.Name, c.cmd.Process.Pid, c.exitText(),
				tail(c.stdout.String(), 32<<10), tail(c.stderr.String(), 64<<10))
		}
	})
	return c
}

// Pid is the child's process ID.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Exited reports whether the child has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Stdout and Stderr return what the child wrote so far.
func (c *Child) Stdout() string { return c.stdout.String() }

// Stderr returns what the child wrote to its standard error so far.
func (c *Child) Stderr() string { return c.stderr.String() }

func (c *Child) exitText() string {
	if !c.Exited() {
		return "still running"
	}
	return c.state.String()
}

// WaitOutput waits until the child's stdout (stderr when fromStderr) matches
// re and returns the submatches. It fails the test when the child exits
// first or timeout passes.
func (c *Child) WaitOutput(t testing.TB, fromStderr bool, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	src := c.stdout
	if fromStderr {
		src = c.stderr
	}
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(src.String()); m != nil {
			return m
		}
		if c.Exited() {
			// The output is complete now; look once more.
			if m := re.FindStringSubmatch(src.String()); m != nil {
				return m
			}
			t.Fatalf("%s exited (%s) before writing a line matching %q", c.Name, c.exitText(), re)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s wrote no line matching %q within %s", c.Name, re, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill sends SIGKILL and waits until the child is gone.
func (c *Child) Kill(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("killing %s: %v", c.Name, err)
	}
	c.wait(t, 30*time.Second)
	if ws, ok := c.state.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s was meant to die of SIGKILL, but %s", c.Name, c.exitText())
	}
}

// Terminate sends SIGTERM, waits for the child to exit (up to timeout) and
// returns its exit code (-1 when a signal ended it).
func (c *Child) Terminate(t testing.TB, timeout time.Duration) int {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("sending SIGTERM to %s: %v", c.Name, err)
	}
	c.wait(t, timeout)
	return c.state.ExitCode()
}

func (c *Child) wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		t.Fatalf("%s (pid %d) did not exit within %s", c.Name, c.Pid(), timeout)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("[... %d bytes left out ...]\n%s", len(s)-n, s[len(s)-n:])
}

// DoTolerant posts a query like Do, but returns a server that cannot be
// reached (down, restarting) or does not answer GraphQL as an error instead
// of failing the test. GraphQL errors are in the Response.
func (c *Client) DoTolerant(ctx context.Context, query string, vars map[string]any) (Response, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return Response{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	out := Response{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("HTTP %d, not a GraphQL response: %.200s", resp.StatusCode, raw)
	}
	return out, nil
}
