package dedup

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnionFindGroups(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		unions  [][2]int
		minSize int
		want    [][]int
	}{
		{"no items", 0, nil, 1, [][]int{}},
		{"singletons", 3, nil, 1, [][]int{{0}, {1}, {2}}},
		{"singletons hidden", 3, nil, 2, [][]int{}},
		{"chain", 5, [][2]int{{4, 3}, {3, 1}}, 2, [][]int{{1, 3, 4}}},
		{"two groups ordered by first item", 6, [][2]int{{5, 2}, {4, 0}, {2, 3}}, 2, [][]int{{0, 4}, {2, 3, 5}}},
		{"repeated and self unions", 3, [][2]int{{1, 1}, {0, 2}, {2, 0}}, 2, [][]int{{0, 2}}},
		{"min size 3", 6, [][2]int{{0, 1}, {2, 3}, {3, 4}}, 3, [][]int{{2, 3, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := NewUnionFind(tt.n)
			for _, p := range tt.unions {
				u.Union(p[0], p[1])
			}
			if diff := cmp.Diff(tt.want, u.Groups(tt.minSize)); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnionReportsMerges(t *testing.T) {
	u := NewUnionFind(3)
	steps := []struct {
		a, b int
		want bool
	}{{0, 1, true}, {1, 0, false}, {1, 2, true}, {0, 2, false}}
	for _, s := range steps {
		if got := u.Union(s.a, s.b); got != s.want {
			t.Errorf("Union(%d, %d) = %v, want %v", s.a, s.b, got, s.want)
		}
	}
	if u.Find(0) != u.Find(2) {
		t.Error("0 and 2 not joined")
	}
}

func TestGroupPairs(t *testing.T) {
	got, err := GroupPairs(5, []Pair{{A: 3, B: 1}, {A: 4, B: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]int{{1, 3, 4}}, got); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	for _, bad := range []Pair{{A: 5, B: 0}, {A: 0, B: -1}} {
		if _, err := GroupPairs(5, []Pair{bad}); err == nil || !strings.Contains(err.Error(), "outside 0..4") {
			t.Errorf("GroupPairs with %+v: error %v", bad, err)
		}
	}
}

func TestExactGroups(t *testing.T) {
	a, b := Digest{1}, Digest{2}
	tests := []struct {
		name string
		keys []Digest
		want [][]int
	}{
		{"none", nil, [][]int{}},
		{"all different", []Digest{a, b}, [][]int{}},
		{"duplicates", []Digest{a, b, a, {3}, b, a}, [][]int{{0, 2, 5}, {1, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ExactGroups(tt.keys)); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}
	// Works for any comparable key, e.g. perceptual hashes.
	if diff := cmp.Diff([][]int{{0, 1}}, ExactGroups([]Hash{7, 7, 8})); diff != "" {
		t.Errorf("hash groups (-want +got):\n%s", diff)
	}
}
