# CUDA policy.
#   STRAND_CUDA=AUTO  CUDA kernels are built when the LibTorch found has CUDA and nvcc exists.
#   STRAND_CUDA=ON    the same, but a missing piece is a configure error.
#   STRAND_CUDA=OFF   no CUDA kernels.
# When CUDA kernels are not built but nvcc exists, every .cu file is still compiled in the
# compile-only target strand_cuda_compile_check so CUDA code never rots.
#
# Results: STRAND_WITH_CUDA (ON/OFF), STRAND_CUDA_COMPILE_CHECK (ON/OFF).

include(CheckLanguage)
check_language(CUDA)

set(_torch_has_cuda OFF)
if(TARGET torch_cuda OR TORCH_CUDA_LIBRARIES OR CAFFE2_USE_CUDA)
  set(_torch_has_cuda ON)
endif()
set(_nvcc_found OFF)
if(CMAKE_CUDA_COMPILER)
  set(_nvcc_found ON)
endif()

set(STRAND_WITH_CUDA OFF)
if(STRAND_CUDA STREQUAL "ON")
  if(NOT _torch_has_cuda)
    message(FATAL_ERROR "STRAND_CUDA=ON but the LibTorch found (${Torch_DIR}) was built without CUDA; "
                        "pass -DTorch_DIR=<libtorch with CUDA>/share/cmake/Torch")
  endif()
  if(NOT _nvcc_found)
    message(FATAL_ERROR "STRAND_CUDA=ON but no CUDA compiler (nvcc) was found; set CMAKE_CUDA_COMPILER")
  endif()
  set(STRAND_WITH_CUDA ON)
elseif(STRAND_CUDA STREQUAL "AUTO")
  if(_torch_has_cuda AND _nvcc_found)
    set(STRAND_WITH_CUDA ON)
  endif()
elseif(NOT STRAND_CUDA STREQUAL "OFF")
  message(FATAL_ERROR "STRAND_CUDA must be AUTO, ON or OFF (got '${STRAND_CUDA}')")
endif()

set(STRAND_CUDA_COMPILE_CHECK OFF)
if(NOT STRAND_WITH_CUDA AND _nvcc_found)
  set(STRAND_CUDA_COMPILE_CHECK ON)
endif()

if(STRAND_WITH_CUDA OR STRAND_CUDA_COMPILE_CHECK)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    # sm_80 (A100) and sm_90 (H100/H200); override with -DCMAKE_CUDA_ARCHITECTURES.
    set(CMAKE_CUDA_ARCHITECTURES 80 90)
  endif()
  if(NOT DEFINED CMAKE_CUDA_HOST_COMPILER)
    set(CMAKE_CUDA_HOST_COMPILER "${CMAKE_CXX_COMPILER}")
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
endif()
