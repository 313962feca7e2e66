// The one public header of cellindex: include <cellindex/cellindex.h> and
// link cellindex::cellindex.
#ifndef CELLINDEX_INDEX_CELLINDEX_H_
#define CELLINDEX_INDEX_CELLINDEX_H_

#include "index/index.h"

#endif  // CELLINDEX_INDEX_CELLINDEX_H_
