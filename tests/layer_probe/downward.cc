// A file the layer check must accept in the cell layer: it includes only
// headers of layers below it (see tests/CMakeLists.txt).
#include "index/base/coding.h"
#include "index/model/cell_map.h"
#include "recovery/journal/journal.h"
