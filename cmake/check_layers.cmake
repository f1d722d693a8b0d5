# Fails when a source includes a header of a layer above its own. Four
# layers, each a folder (subfolders included: proxy/tcp/, proxy/middleware/,
# controller/providers/, controller/acme/):
#   common <- proxy <- admin <- controller
# Run by the check_layers target of every build.
set(bad "")
foreach(rule "common;proxy|admin|controller" "proxy;admin|controller" "admin;controller")
  list(GET rule 0 layer)
  list(GET rule 1 above)
  file(GLOB_RECURSE files "${SOURCE_DIR}/${layer}/*.c" "${SOURCE_DIR}/${layer}/*.h")
  foreach(f ${files})
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    foreach(l ${lines})
      if(l MATCHES "\"(\\.\\./)+(${above})/")
        file(RELATIVE_PATH rel "${SOURCE_DIR}" "${f}")
        string(APPEND bad "  ${rel}: ${l}\n")
      endif()
    endforeach()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "includes point up the layers (common <- proxy <- admin <- controller):\n${bad}")
endif()
