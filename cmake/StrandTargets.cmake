# Helpers shared by every module: warnings on project code, the one LibTorch
# precompiled header, and a uniform way to declare module libraries.

set(STRAND_WARNINGS -Wall -Wextra -Wno-unused-parameter)
if(STRAND_WERROR)
  list(APPEND STRAND_WARNINGS -Werror)
endif()

# ccache and precompiled headers: let ccache cache PCH users.
if(STRAND_CCACHE)
  set(_launcher ${CMAKE_COMMAND} -E env
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime" ${STRAND_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${_launcher})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${_launcher})
endif()

# strand_warnings(target): project warning flags, applied to our own sources only.
# LibTorch, HTSlib, RDKit and HDF5 arrive through imported targets, whose include
# directories CMake marks SYSTEM, so -Werror never fires on their headers.
function(strand_warnings target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${STRAND_WARNINGS}>)
endfunction()

# One precompiled header for every translation unit that includes LibTorch.
# Targets reuse it with strand_torch_pch(target) (REUSE_FROM needs identical flags,
# so all users share the warning flags and the C++ standard set above).
add_library(strand_pch OBJECT "${PROJECT_SOURCE_DIR}/cmake/pch_anchor.cpp")
target_link_libraries(strand_pch PUBLIC torch)
strand_warnings(strand_pch)
target_precompile_headers(strand_pch PRIVATE <ATen/ATen.h> <torch/library.h> <torch/types.h> <torch/nn.h>
                          <torch/optim.h>)

function(strand_torch_pch target)
  target_precompile_headers(${target} REUSE_FROM strand_pch)
endfunction()
