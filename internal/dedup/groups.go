package dedup

import "fmt"

// UnionFind partitions the items 0..n-1 into groups; Union merges two items' groups. Find and
// Union are near-constant time (union by size, path halving). Indices must be in 0..n-1; others
// panic like any out-of-range slice index, since they are a programming error.
type UnionFind struct {
	parent []int32
	size   []int32
}

// NewUnionFind returns n singleton groups.
func NewUnionFind(n int) *UnionFind {
	u := &UnionFind{parent: make([]int32, n), size: make([]int32, n)}
	for i := range u.parent {
		u.parent[i] = int32(i)
		u.size[i] = 1
	}
	return u
}

// Find returns the representative of i's group.
func (u *UnionFind) Find(i int) int {
	x := int32(i)
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return int(x)
}

// Union merges the groups of a and b and reports whether they were separate.
func (u *UnionFind) Union(a, b int) bool {
	ra, rb := int32(u.Find(a)), int32(u.Find(b))
	if ra == rb {
		return false
	}
	if u.size[ra] < u.size[rb] {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	u.size[ra] += u.size[rb]
	return true
}

// Groups lists the groups with at least minSize items, each ascending, ordered by first item, so
// that the output does not depend on the order of the unions.
func (u *UnionFind) Groups(minSize int) [][]int {
	byRoot := map[int]int{} // root -> position in groups
	groups := [][]int{}
	for i := range u.parent {
		root := u.Find(i)
		if int(u.size[root]) < minSize {
			continue
		}
		g, ok := byRoot[root]
		if !ok {
			g = len(groups)
			byRoot[root] = g
			groups = append(groups, make([]int, 0, u.size[root]))
		}
		groups[g] = append(groups[g], i) // i ascends, so each group and the group order do too
	}
	return groups
}

// GroupPairs groups the items 0..n-1 linked by pairs (from Index.Pairs, for instance) and returns
// the groups of two or more, as UnionFind.Groups orders them. Pairs from a truncated PairResult
// give incomplete groups; Index.Groups has no such limit.
func GroupPairs(n int, pairs []Pair) ([][]int, error) {
	u := NewUnionFind(n)
	for _, p := range pairs {
		if p.A < 0 || p.A >= n || p.B < 0 || p.B >= n {
			return nil, fmt.Errorf("group pairs: pair (%d, %d) is outside 0..%d", p.A, p.B, n-1)
		}
		u.Union(p.A, p.B)
	}
	return u.Groups(2), nil
}

// ExactGroups groups the items whose keys are equal (pixel digests for exact duplicates, or
// perceptual hashes) and returns the groups of two or more, each ascending, ordered by first item.
func ExactGroups[K comparable](keys []K) [][]int {
	first := make(map[K]int, len(keys)) // key -> its first item
	u := NewUnionFind(len(keys))
	for i, k := range keys {
		if f, ok := first[k]; ok {
			u.Union(f, i)
		} else {
			first[k] = i
		}
	}
	return u.Groups(2)
}
