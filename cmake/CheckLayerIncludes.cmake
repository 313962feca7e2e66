# Run as a script (cmake -P) by the build before each layer compiles: fails
# when a file of layer LAYER includes a header of a layer it may not use.
#
#   LAYER    the layer's name, for messages
#   DIR      its folder (relative to the source root)
#   ALLOWED  the folders it may include from, comma-separated (its own too)
#   ALL      every layer's folder, comma-separated: including from one of
#            these that is not ALLOWED is an upward (or sideways) include
#   FILES    the files to check, comma-separated absolute paths
#   STAMP    touched when every include is allowed
cmake_minimum_required(VERSION 3.25)
string(REPLACE "," ";" allowed "${ALLOWED}")
string(REPLACE "," ";" all "${ALL}")
string(REPLACE "," ";" files "${FILES}")
set(errors "")
foreach(file IN LISTS files)
  file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\".*$" "\\1" header "${line}")
    get_filename_component(dir "${header}" DIRECTORY)
    if(dir IN_LIST all AND NOT dir IN_LIST allowed)
      string(APPEND errors "\n  ${file}: #include \"${header}\": layer ${LAYER} (${DIR}) "
                           "may not include ${dir} (it may use: ${allowed})")
    endif()
  endforeach()
endforeach()
if(errors)
  message(FATAL_ERROR "upward include${errors}")
endif()
if(STAMP)
  file(TOUCH "${STAMP}")
endif()
