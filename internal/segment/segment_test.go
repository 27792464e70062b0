package segment

import "testing"

func TestLabelMap(t *testing.T) {
	tests := []struct {
		name    string
		m       LabelMap
		wantErr bool
	}{
		{"ok", NewLabelMap(3, 2), false},
		{"short", LabelMap{W: 3, H: 2, Pix: make([]uint16, 5)}, true},
		{"empty", LabelMap{}, true},
	}
	for _, tc := range tests {
		if err := tc.m.Validate(); (err != nil) != tc.wantErr {
			t.Errorf("%s: Validate() = %v", tc.name, err)
		}
	}
	m := NewLabelMap(4, 4)
	p := &m.Pix[0]
	m.Reshape(2, 3)
	if m.W != 2 || m.H != 3 || len(m.Pix) != 6 || &m.Pix[0] != p {
		t.Errorf("Reshape to a smaller size did not reuse the memory: %dx%d len %d", m.W, m.H, len(m.Pix))
	}
	c := m.Clone()
	c.Pix[0] = 9
	if m.Pix[0] == 9 || m.SizeString() != "2x3" {
		t.Error("Clone shares memory or SizeString is wrong")
	}
}
