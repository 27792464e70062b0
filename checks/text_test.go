package checks

import "testing"

// TestTextForms: numbers in summaries read as a person writes them: no "-0.0", no sixteen-digit
// levels, singular and plural nouns.
func TestTextForms(t *testing.T) {
	tests := []struct{ got, want string }{
		{pct(-0.00001), "0.0%"},
		{pct(0.98412), "98.4%"},
		{pp(-0.00001), "±0.0 pp"},
		{pp(0.00001), "±0.0 pp"},
		{pp(0.074), "+7.4 pp"},
		{pp(-0.021), "-2.1 pp"},
		{levelText(0.99166666666666667), "99.17%"},
		{levelText(0.95), "95%"},
		{levelText(0.999), "99.9%"},
		{count(1, "flip", "flips"), "1 flip"},
		{count(0, "flip", "flips"), "0 flips"},
		{count(38, "flip", "flips"), "38 flips"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
