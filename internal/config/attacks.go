package config

import (
	"fmt"
	"strings"
)

// attackAliases maps each attack robust.adversarial runs to the other names users write for it.
// Names are compared after lower-casing and dropping '-', '_' and spaces, so "Hop-Skip-Jump" and
// "hop_skip_jump" need no entry of their own.
func attackAliases() []attackAlias {
	return []attackAlias{
		{"square", []string{"squareattack", "squarelinf"}},
		{"hopskipjump", []string{"hsj", "hsja", "hopskipjumpattack", "boundaryplusplus"}},
	}
}

type attackAlias struct {
	name    string
	aliases []string
}

// AttackNames are the canonical attack names, in the order reports list them.
func AttackNames() []string {
	table := attackAliases()
	out := make([]string, len(table))
	for i, a := range table {
		out[i] = a.name
	}
	return out
}

// CanonicalAttack returns the canonical name of an attack given by any of its names; ok is false
// for a name that is none.
func CanonicalAttack(name string) (canonical string, ok bool) {
	key := strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', ' ':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(name)))
	for _, a := range attackAliases() {
		if key == a.name {
			return a.name, true
		}
		for _, alias := range a.aliases {
			if key == alias {
				return a.name, true
			}
		}
	}
	return "", false
}

// attackChoices lists the accepted names for error messages, e.g. "square, hopskipjump (or hsj,
// hsja, ...)".
func attackChoices() string {
	var parts []string
	for _, a := range attackAliases() {
		parts = append(parts, fmt.Sprintf("%s (also %s)", a.name, strings.Join(a.aliases, ", ")))
	}
	return strings.Join(parts, "; ")
}

// canonicalAttacks rewrites the configured attacks to their canonical names, so that the checks
// and the reports see one name per attack. Unknown names are left for Validate to report.
func canonicalAttacks(c *Config) {
	attacks := c.Thresholds.RobustAdversarial.Attacks
	if attacks == nil {
		return
	}
	out := make([]string, len(attacks))
	for i, a := range attacks {
		out[i] = a
		if name, ok := CanonicalAttack(a); ok {
			out[i] = name
		}
	}
	c.Thresholds.RobustAdversarial.Attacks = out
}

// validateAttacks reports unknown attacks, listing every accepted name, and attacks listed twice
// (under any of their names), which would run the same attack twice under one metric prefix.
func (v *validator) validateAttacks(key string, attacks []string) {
	seen := map[string]string{}
	for _, a := range attacks {
		name, ok := CanonicalAttack(a)
		if !ok {
			v.add(key, "unknown attack %q; use one of: %s", a, attackChoices())
			continue
		}
		if first, dup := seen[name]; dup {
			v.add(key, "%q and %q are both %s: list each attack once", first, a, name)
			continue
		}
		seen[name] = a
	}
}
