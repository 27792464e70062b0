package githubtest

import (
	"strings"
	"unicode"
)

// RunnerCommand is one workflow command the Actions runner would run from a step's output.
type RunnerCommand struct {
	Name   string
	Props  map[string]string // unescaped
	Data   string            // unescaped
	Legacy bool              // the "##[name k=v;]data" form
	Line   string            // the log line it came from
}

// runnerCommands are the names the runner registers (actions/runner
// src/Runner.Worker/ActionCommandManager.cs and friends); anything else is an ordinary line.
var runnerCommands = map[string]bool{
	"add-mask": true, "add-matcher": true, "add-path": true, "debug": true, "echo": true,
	"endgroup": true, "error": true, "group": true, "notice": true, "remove-matcher": true,
	"save-state": true, "set-env": true, "set-output": true, "stop-commands": true, "warning": true,
}

// ParseCommands reads a step's output as the Actions runner does and returns the commands it
// would run, in order. It follows the runner's documented and observable rules, written here
// independently: a line ends at "\n", "\r" or "\r\n"; a line is a command when, after leading
// white space, it starts with "::" and names a registered command (the "v2" form), or else
// holds "##[" followed by a registered name and "]" anywhere (the legacy form); command names
// are case-insensitive; "::stop-commands::TOKEN" stops all command processing until a line
// "::TOKEN::" (or "##[TOKEN]"). Tests use it to prove that nothing cvgate prints from input can
// run a command.
func ParseCommands(output string) []RunnerCommand {
	var cmds []RunnerCommand
	stopToken := ""
	for _, line := range splitRunnerLines(output) {
		c, ok := parseV2(line, stopToken)
		if !ok {
			c, ok = parseLegacy(line, stopToken)
		}
		if !ok {
			continue
		}
		if stopToken != "" {
			if strings.EqualFold(c.Name, stopToken) {
				stopToken = ""
			}
			continue
		}
		if c.Name == "stop-commands" {
			stopToken = c.Data
		}
		cmds = append(cmds, c)
	}
	return cmds
}

func splitRunnerLines(s string) []string {
	var lines []string
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
	return lines
}

func registered(name, stopToken string) bool {
	n := strings.ToLower(name)
	return runnerCommands[n] || (stopToken != "" && strings.EqualFold(name, stopToken))
}

func parseV2(line, stopToken string) (RunnerCommand, bool) {
	msg := strings.TrimLeftFunc(line, unicode.IsSpace)
	if !strings.HasPrefix(msg, "::") {
		return RunnerCommand{}, false
	}
	end := strings.Index(msg[2:], "::")
	if end < 0 {
		return RunnerCommand{}, false
	}
	info := msg[2 : 2+end]
	name, props, _ := strings.Cut(info, " ")
	if !registered(name, stopToken) {
		return RunnerCommand{}, false
	}
	c := RunnerCommand{Name: strings.ToLower(name), Props: map[string]string{}, Line: line}
	if strings.EqualFold(name, stopToken) {
		c.Name = name
	}
	for _, kv := range strings.Split(strings.TrimSpace(props), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" && v != "" {
			c.Props[k] = unescape(v, true)
		}
	}
	c.Data = unescape(msg[2+end+2:], false)
	return c, true
}

func parseLegacy(line, stopToken string) (RunnerCommand, bool) {
	i := strings.Index(line, "##[")
	if i < 0 {
		return RunnerCommand{}, false
	}
	rb := strings.IndexByte(line[i:], ']')
	if rb < 0 {
		return RunnerCommand{}, false
	}
	info := line[i+3 : i+rb]
	name, props, _ := strings.Cut(info, " ")
	if !registered(name, stopToken) {
		return RunnerCommand{}, false
	}
	c := RunnerCommand{Name: strings.ToLower(name), Props: map[string]string{}, Legacy: true, Line: line}
	if strings.EqualFold(name, stopToken) {
		c.Name = name
	}
	for _, kv := range strings.Split(props, ";") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" && v != "" {
			c.Props[k] = v
		}
	}
	c.Data = line[i+rb+1:]
	return c, true
}

func unescape(s string, property bool) string {
	pairs := []string{"%0D", "\r", "%0A", "\n"}
	if property {
		pairs = append(pairs, "%3A", ":", "%2C", ",")
	}
	pairs = append(pairs, "%25", "%")
	return strings.NewReplacer(pairs...).Replace(s)
}
