// A file the layer check must refuse when it stands in the base layer: it
// includes a header of the cell layer, above it (see tests/CMakeLists.txt).
#include "index/base/coding.h"
#include "index/cell/cell.h"
