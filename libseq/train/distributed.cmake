# Distributed training (train/distributed.h) over torch's c10d. CMake decides which backend files
# exist; a missing backend is a stand-in that throws UnsupportedError.
#   Gloo (CPU): needs the gloo headers, which LibTorch's c10d headers include (Debian: libgloo-dev;
#     the gloo code itself is inside libtorch_cpu).
#   NCCL (GPU): needs a CUDA build (STRAND_WITH_CUDA) and nccl.h.
# USE_C10D_GLOO / USE_C10D_NCCL are the macros LibTorch guards these headers with; they are set on
# the one file that includes each header.
list(APPEND STRAND_SEQ_TRAIN_SOURCES train/distributed.cpp)

find_path(STRAND_GLOO_INCLUDE_DIR gloo/config.h HINTS ${TORCH_INCLUDE_DIRS})
if(STRAND_GLOO_INCLUDE_DIR)
  list(APPEND STRAND_SEQ_TRAIN_SOURCES train/distributed_gloo.cpp)
  set_source_files_properties(train/distributed_gloo.cpp PROPERTIES COMPILE_DEFINITIONS USE_C10D_GLOO)
  if(NOT "${STRAND_GLOO_INCLUDE_DIR}" IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    set_source_files_properties(train/distributed_gloo.cpp PROPERTIES INCLUDE_DIRECTORIES "${STRAND_GLOO_INCLUDE_DIR}")
  endif()
else()
  list(APPEND STRAND_SEQ_TRAIN_SOURCES train/distributed_nogloo.cpp)
  message(WARNING "gloo headers not found (Debian: libgloo-dev): distributed training on CPU is not built")
endif()

set(STRAND_DIST_NCCL OFF)
if(STRAND_WITH_CUDA)
  find_path(STRAND_NCCL_INCLUDE_DIR nccl.h
            HINTS ${TORCH_INCLUDE_DIRS} ${CUDAToolkit_INCLUDE_DIRS} $ENV{NCCL_ROOT}/include $ENV{NCCL_HOME}/include
                  $ENV{CUDA_HOME}/include /usr/local/cuda/include)
  if(STRAND_NCCL_INCLUDE_DIR)
    set(STRAND_DIST_NCCL ON)
    list(APPEND STRAND_SEQ_TRAIN_SOURCES train/distributed_nccl.cpp)
    set_source_files_properties(train/distributed_nccl.cpp PROPERTIES COMPILE_DEFINITIONS USE_C10D_NCCL)
    if(NOT "${STRAND_NCCL_INCLUDE_DIR}" IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
      set_source_files_properties(train/distributed_nccl.cpp PROPERTIES INCLUDE_DIRECTORIES "${STRAND_NCCL_INCLUDE_DIR}")
    endif()
  else()
    message(WARNING "nccl.h not found (set NCCL_ROOT): distributed training on GPU (NCCL) is not built")
  endif()
endif()
if(NOT STRAND_DIST_NCCL)
  list(APPEND STRAND_SEQ_TRAIN_SOURCES train/distributed_nonccl.cpp)
endif()
