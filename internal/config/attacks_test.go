package config

import (
	"slices"
	"strings"
	"testing"
)

func TestCanonicalAttack(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"square", "square", true},
		{"Square", "square", true},
		{"square_attack", "square", true},
		{"hopskipjump", "hopskipjump", true},
		{"hsj", "hopskipjump", true},
		{"HSJA", "hopskipjump", true},
		{"Hop-Skip-Jump", "hopskipjump", true},
		{" hop_skip_jump ", "hopskipjump", true},
		{"boundary", "", false},
		{"", "", false},
		{"pgd", "", false},
	}
	for _, tt := range tests {
		got, ok := CanonicalAttack(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CanonicalAttack(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if got := AttackNames(); !slices.Equal(got, []string{"square", "hopskipjump"}) {
		t.Errorf("AttackNames() = %v", got)
	}
}

func TestLoadAttackNames(t *testing.T) {
	valid := []struct {
		name string
		list string
		want []string
	}{
		{"canonical", "[square, hopskipjump]", []string{"square", "hopskipjump"}},
		{"aliases become canonical", "[Square, hsj]", []string{"square", "hopskipjump"}},
		{"order kept", "[HSJA, square_attack]", []string{"hopskipjump", "square"}},
		{"none", "[]", []string{}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, "version: 1\nthresholds:\n  robust.adversarial:\n    attacks: "+tt.list+"\n")
			c, err := Load(Sources{File: path, FileRequired: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Thresholds.RobustAdversarial.Attacks; !slices.Equal(got, tt.want) {
				t.Errorf("attacks %v, want %v", got, tt.want)
			}
		})
	}
	invalid := []struct {
		name string
		list string
		want []string
	}{
		{"unknown, with every accepted name", "[square, pgd]", []string{"thresholds.robust.adversarial.attacks", `unknown attack "pgd"`, "square (also", "hopskipjump (also hsj"}},
		{"the same attack twice", "[hopskipjump, hsj]", []string{"thresholds.robust.adversarial.attacks", `"hopskipjump" and "hsj" are both hopskipjump`}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, "version: 1\nthresholds:\n  robust.adversarial:\n    attacks: "+tt.list+"\n")
			_, err := Load(Sources{File: path, FileRequired: true})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}
