package checks

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cvgate/cvgate/report"
)

type fakeCheck struct {
	id  string
	run func(ctx context.Context) (*report.Result, error)
}

func (f fakeCheck) ID() string    { return f.id }
func (f fakeCheck) Title() string { return "fake " + f.id }
func (f fakeCheck) Run(ctx context.Context, _ *Env) (*report.Result, error) {
	return f.run(ctx)
}

func TestRunIsolatesChecks(t *testing.T) {
	list := []Check{
		fakeCheck{"a.pass", func(context.Context) (*report.Result, error) {
			return &report.Result{Status: report.StatusPass, Summary: "fine"}, nil
		}},
		fakeCheck{"a.panic", func(context.Context) (*report.Result, error) { panic("boom") }},
		fakeCheck{"a.error", func(context.Context) (*report.Result, error) { return nil, errors.New("no data\nmore") }},
		fakeCheck{"a.skip", func(context.Context) (*report.Result, error) { return nil, Skip("no baseline") }},
		fakeCheck{"a.slow", func(ctx context.Context) (*report.Result, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}},
		fakeCheck{"a.nil", func(context.Context) (*report.Result, error) { return nil, nil }},
		fakeCheck{"a.after", func(context.Context) (*report.Result, error) {
			return &report.Result{Status: report.StatusWarn}, nil
		}},
	}
	got := Run(context.Background(), &Env{}, list, 50*time.Millisecond)
	want := []struct {
		status report.Status
		text   string
	}{
		{report.StatusPass, "fine"},
		{report.StatusError, "panic: boom"},
		{report.StatusError, "no data"},
		{report.StatusSkip, "no baseline"},
		{report.StatusError, "timed out"},
		{report.StatusError, "no result"},
		{report.StatusWarn, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		if r.ID != list[i].ID() || r.Status != w.status {
			t.Errorf("%s: %s, want %s", list[i].ID(), r.Status, w.status)
		}
		if !strings.Contains(r.Summary+r.Error, w.text) {
			t.Errorf("%s: summary %q error %q lack %q", r.ID, r.Summary, r.Error, w.text)
		}
		if r.Title == "" {
			t.Errorf("%s: no title", r.ID)
		}
	}
	if strings.Contains(got[2].Summary, "more") {
		t.Errorf("summary should keep the first line only: %q", got[2].Summary)
	}
}

func TestSelect(t *testing.T) {
	all := []Check{fakeCheck{id: "model.load"}, fakeCheck{id: "perf.metrics"}, fakeCheck{id: "perf.baseline"}, fakeCheck{id: "robust.abnormal"}}
	tests := []struct {
		name             string
		include, exclude []string
		want             string
		wantErr          string
	}{
		{"all", nil, nil, "model.load,perf.metrics,perf.baseline,robust.abnormal", ""},
		{"prefix", []string{"perf"}, nil, "perf.metrics,perf.baseline", ""},
		{"glob", []string{"perf.*"}, nil, "perf.metrics,perf.baseline", ""},
		{"exact plus exclude", []string{"perf.*", "model.load"}, []string{"perf.baseline"}, "model.load,perf.metrics", ""},
		{"prefix is not a substring", []string{"perf.m"}, nil, "", "unknown check(s) perf.m"},
		{"unknown lists valid ids", []string{"speed"}, nil, "", "model.load, perf.metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Select(all, tt.include, tt.exclude)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(IDs(got), ","); s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
}

func TestRunDropsNonFiniteMetrics(t *testing.T) {
	nan := math.NaN()
	list := []Check{fakeCheck{"a.nan", func(context.Context) (*report.Result, error) {
		return &report.Result{Status: report.StatusPass, Metrics: map[string]float64{"ok": 1, "ratio": nan, "big": math.Inf(1)},
			Details: []report.Section{{Chart: &report.Chart{Series: []report.Series{{Values: []float64{0.5, nan}}}}}}}, nil
	}}}
	r := Run(context.Background(), &Env{}, list, time.Second)[0]
	if _, ok := r.Metrics["ratio"]; ok || r.Metrics["ok"] != 1 || len(r.Metrics) != 1 {
		t.Errorf("metrics %v: the non-finite ones must go, the rest stay", r.Metrics)
	}
	if v := r.Details[0].Chart.Series[0].Values[1]; v != 0 {
		t.Errorf("chart cell %v, want 0", v)
	}
	last := r.Details[len(r.Details)-1].Text
	if !strings.Contains(last, "ratio (NaN)") || !strings.Contains(last, "big (+Inf)") {
		t.Errorf("no note naming the dropped metrics: %q", last)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("the result does not encode: %v", err)
	}
}
