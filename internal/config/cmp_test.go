package config

import (
	"reflect"

	"github.com/google/go-cmp/cmp"
)

// cmpEmpty treats nil and empty slices and maps as equal.
func cmpEmpty() cmp.Option {
	return cmp.FilterValues(func(a, b any) bool {
		va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
		if va.Kind() != vb.Kind() || (va.Kind() != reflect.Slice && va.Kind() != reflect.Map) {
			return false
		}
		return va.Len() == 0 && vb.Len() == 0
	}, cmp.Comparer(func(a, b any) bool { return true }))
}
