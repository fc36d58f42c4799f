// Process-wide C stdio settings the Swift side cannot reach: `stdout` is a mutable C global, which Swift 6's strict
// concurrency checking will not let Swift code name.
#include "octet_kernels.h"
#include <stdio.h>

void octet_line_buffer_stdout(void) { setvbuf(stdout, NULL, _IOLBF, 0); }
