# FindRDKit
# ---------
# Debian's librdkit-dev ships headers and shared libraries but no CMake package
# configuration. This module finds them.
#
#   find_package(RDKit [REQUIRED] [COMPONENTS SmilesParse FileParsers ...])
#
# Default components: GraphMol SmilesParse FileParsers RDGeneral.
# Result variables: RDKit_FOUND, RDKit_INCLUDE_DIRS, RDKit_LIBRARIES, RDKit_VERSION.
# Imported targets: RDKit::<Component> for each component, and RDKit::RDKit linking all of them.

set(_rdkit_components ${RDKit_FIND_COMPONENTS})
if(NOT _rdkit_components)
  set(_rdkit_components GraphMol SmilesParse FileParsers RDGeneral)
endif()

find_path(RDKit_INCLUDE_DIR NAMES GraphMol/ROMol.h
          PATH_SUFFIXES rdkit
          HINTS ENV RDBASE PATHS /usr/include /usr/local/include)

set(RDKit_LIBRARIES)
set(_rdkit_missing)
foreach(_c IN LISTS _rdkit_components)
  find_library(RDKit_${_c}_LIBRARY NAMES RDKit${_c} ${_c}
               HINTS ENV RDBASE PATH_SUFFIXES lib lib64)
  if(RDKit_${_c}_LIBRARY)
    list(APPEND RDKit_LIBRARIES ${RDKit_${_c}_LIBRARY})
    set(RDKit_${_c}_FOUND TRUE)
  else()
    list(APPEND _rdkit_missing ${_c})
  endif()
endforeach()

if(RDKit_INCLUDE_DIR AND EXISTS "${RDKit_INCLUDE_DIR}/RDGeneral/versions.h")
  file(STRINGS "${RDKit_INCLUDE_DIR}/RDGeneral/versions.h" _rdkit_ver_line
       REGEX "rdkitVersion *= *\"[0-9.]+")
  string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" RDKit_VERSION "${_rdkit_ver_line}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(RDKit
  REQUIRED_VARS RDKit_INCLUDE_DIR RDKit_LIBRARIES
  VERSION_VAR RDKit_VERSION
  HANDLE_COMPONENTS
  REASON_FAILURE_MESSAGE "install librdkit-dev (missing components: ${_rdkit_missing})")

if(RDKit_FOUND)
  set(RDKit_INCLUDE_DIRS "${RDKit_INCLUDE_DIR}")
  if(NOT TARGET RDKit::RDKit)
    add_library(RDKit::RDKit INTERFACE IMPORTED)
  endif()
  foreach(_c IN LISTS _rdkit_components)
    if(RDKit_${_c}_FOUND AND NOT TARGET RDKit::${_c})
      add_library(RDKit::${_c} UNKNOWN IMPORTED)
      set_target_properties(RDKit::${_c} PROPERTIES
        IMPORTED_LOCATION "${RDKit_${_c}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${RDKit_INCLUDE_DIR}")
      target_link_libraries(RDKit::RDKit INTERFACE RDKit::${_c})
    endif()
  endforeach()
endif()
mark_as_advanced(RDKit_INCLUDE_DIR)
