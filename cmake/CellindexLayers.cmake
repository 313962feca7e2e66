# The library is built in layers, one folder each, from the bottom:
#
#   base      index/base        encoding, checksums, files, status conversion, stats
#   model     index/model       object key and record, cell map, page token, write batch
#   journal   recovery/journal  the journal: format, reader, writer, segments
#   store     recovery/store    the durable store, manifests, the store's layout
#   cell      index/cell        one cell: open, group commit, key space, scans
#   recovery  recovery          checkpoints, cell recovery, the set of cells
#   api       index             the Index API
#
# cellindex_layer(NAME DIR <folder> USES <lower layers> SOURCES <files>) builds
# a layer as an object library that may include only headers of its own
# folder and of the layers it USES (named in full: uses are not inherited).
# Before it compiles, CheckLayerIncludes.cmake reads every .h and .cc of the
# folder: an include of any other layer's header fails the build, naming the
# file and the header. The layers' objects make one static library,
# cellindex.
set(CELLINDEX_LAYER_DIRS "" CACHE INTERNAL "")

function(cellindex_layer name)
  cmake_parse_arguments(L "" "DIR" "USES;SOURCES" ${ARGN})
  set(dirs ${CELLINDEX_LAYER_DIRS} ${L_DIR})
  set(CELLINDEX_LAYER_DIRS ${dirs} CACHE INTERNAL "")
  set(allowed ${L_DIR})
  foreach(use IN LISTS L_USES)
    list(APPEND allowed ${CELLINDEX_LAYER_DIR_${use}})
  endforeach()
  set(CELLINDEX_LAYER_DIR_${name} ${L_DIR} CACHE INTERNAL "")
  set(CELLINDEX_LAYER_ALLOWED_${name} ${allowed} CACHE INTERNAL "")

  list(TRANSFORM L_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/${L_DIR}/)
  add_library(cellindex_${name} OBJECT ${L_SOURCES})
  target_include_directories(cellindex_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_include_directories(cellindex_${name} SYSTEM PRIVATE ${ROCKSDB_INCLUDE_DIR}
                             ${XXHASH_INCLUDE_DIR})
  target_link_libraries(cellindex_${name} PUBLIC ${CELLINDEX_ABSL_LIBS})
  target_compile_options(cellindex_${name} PRIVATE -Wall -Wextra)
  set_target_properties(cellindex_${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  set_property(GLOBAL APPEND PROPERTY CELLINDEX_LAYERS ${name})
endfunction()

# Adds the include checks; called once every layer is declared, since each
# check needs every layer's folder.
function(cellindex_check_layers)
  get_property(layers GLOBAL PROPERTY CELLINDEX_LAYERS)
  file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/layers)
  string(REPLACE ";" "," all "${CELLINDEX_LAYER_DIRS}")
  foreach(name IN LISTS layers)
    set(dir ${CELLINDEX_LAYER_DIR_${name}})
    file(GLOB files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${dir}/*.h
         ${PROJECT_SOURCE_DIR}/${dir}/*.cc)
    string(REPLACE ";" "," allowed "${CELLINDEX_LAYER_ALLOWED_${name}}")
    string(REPLACE ";" "," file_list "${files}")
    set(stamp ${CMAKE_CURRENT_BINARY_DIR}/layers/${name}.ok)
    add_custom_command(
      OUTPUT ${stamp}
      COMMAND ${CMAKE_COMMAND} -DLAYER=${name} -DDIR=${dir} "-DALLOWED=${allowed}"
              "-DALL=${all}" "-DFILES=${file_list}" -DSTAMP=${stamp}
              -P ${PROJECT_SOURCE_DIR}/cmake/CheckLayerIncludes.cmake
      DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/CheckLayerIncludes.cmake
      COMMENT "Checking that layer ${name} (${dir}) includes only the layers below it"
      VERBATIM)
    add_custom_target(cellindex_${name}_includes DEPENDS ${stamp})
    add_dependencies(cellindex_${name} cellindex_${name}_includes)
  endforeach()
endfunction()
