package onnx

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

// cvgate_dlopen_error loads and unloads a library as ONNX Runtime loads its providers, and returns
// the loader's message (a copy for the caller to free) when that fails, else NULL.
static char* cvgate_dlopen_error(const char* path) {
	void* h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
	if (h == NULL) {
		const char* e = dlerror();
		return strdup(e ? e : "unknown loader error");
	}
	dlclose(h);
	return NULL;
}
*/
import "C"

import "unsafe"

// dlopenError returns the dynamic loader's message for loading the library at path, or "" when it
// loads. It only diagnoses a failure ONNX Runtime already had: ONNX Runtime's own error says no
// more than "Failed to load shared library".
func dlopenError(path string) string {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	msg := C.cvgate_dlopen_error(cpath)
	if msg == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(msg))
	return C.GoString(msg)
}
