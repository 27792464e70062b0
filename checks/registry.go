package checks

import "github.com/cvgate/cvgate/internal/config"

// All returns every check of `cvgate check`, in report order: the model itself, then
// performance, data, and robustness.
func All() []Check {
	return []Check{
		ModelLoad{},
		ModelSignature{},
		ModelMetadata{},
		ModelNumerics{},
		ModelLatency{},
		PerfMetrics{},
		PerfBaseline{},
		PerfSegments{},
		PerfTrivial{},
		DataIntegrity{},
		DataLeakage{},
		RobustCorruptions{},
		RobustInvariance{},
		RobustAbnormal{},
		RobustGuard{},
		RobustAdversarial{},
	}
}

// IDs lists the IDs of checks, in order.
func IDs(list []Check) []string {
	out := make([]string, len(list))
	for i, c := range list {
		out[i] = c.ID()
	}
	return out
}

// Enabled drops the checks the config disables (thresholds.<id>.enabled: false), unless they are
// named explicitly in include.
func Enabled(list []Check, cfg *config.Config, include []string) []Check {
	var out []Check
	for _, c := range list {
		explicit := false
		for _, pat := range include {
			if pat == c.ID() {
				explicit = true
			}
		}
		if explicit || enabledByConfig(c, cfg) {
			out = append(out, c)
		}
	}
	return out
}

// Toggled is implemented by checks that can be switched off in config; it returns the check's
// common settings and whether it runs when the config says nothing.
type Toggled interface {
	Common(cfg *config.Config) (settings config.Common, byDefault bool)
}

func enabledByConfig(c Check, cfg *config.Config) bool {
	t, ok := c.(Toggled)
	if !ok {
		return true
	}
	settings, byDefault := t.Common(cfg)
	return settings.IsEnabled(byDefault)
}

// DataOnly is implemented by checks that read the data and never a model (Env.Candidate may be
// nil): they run even when the model does not load, so that a broken model does not hide
// problems in the images.
type DataOnly interface{ DataOnly() }

// NeedsModel reports whether c needs a loaded candidate model.
func NeedsModel(c Check) bool {
	_, ok := c.(DataOnly)
	return !ok
}
