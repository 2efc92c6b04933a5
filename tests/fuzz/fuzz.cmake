# libFuzzer targets for the parsers that read untrusted bytes (STYLE.md: every text parser gets a
# fuzz target). They need clang, and the libraries instrumented for coverage and sanitizers, so
# they are built in a build directory of their own:
#   CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DSTRAND_FUZZ=ON \
#     -DSTRAND_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
#     -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" \
#     -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined"
# The executables land in build-fuzz/fuzz/; the README says how to run them.
option(STRAND_FUZZ "Build libFuzzer targets (needs clang)" OFF)

if(STRAND_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "STRAND_FUZZ=ON needs clang for libFuzzer (found ${CMAKE_CXX_COMPILER_ID}): "
                        "configure a fresh build directory with CC=clang-14 CXX=clang++-14")
  endif()
  if(NOT CMAKE_CXX_FLAGS MATCHES "fuzzer-no-link")
    message(FATAL_ERROR "STRAND_FUZZ=ON needs the libraries instrumented as well, or libFuzzer gets no "
                        "coverage from the parsers: add -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link,address,undefined "
                        "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address,undefined")
  endif()

  # strand_add_fuzzer(<name> SOURCES ... LIBS ...): one libFuzzer executable in <build>/fuzz.
  function(strand_add_fuzzer name)
    cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${F_SOURCES})
    target_link_libraries(${name} PRIVATE ${F_LIBS})
    target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}")
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    strand_warnings(${name})
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}/fuzz")
  endfunction()

  set(_fuzz "${CMAKE_CURRENT_LIST_DIR}")
  strand_add_fuzzer(fastx_fuzz SOURCES "${_fuzz}/fastx_fuzz.cpp" LIBS strand_bio)
  strand_add_fuzzer(gc_prt_fuzz SOURCES "${_fuzz}/gc_prt_fuzz.cpp" LIBS strand_bio)
  strand_add_fuzzer(codon_usage_fuzz SOURCES "${_fuzz}/codon_usage_fuzz.cpp" LIBS strand_bio)
  strand_add_fuzzer(safetensors_fuzz SOURCES "${_fuzz}/safetensors_fuzz.cpp" LIBS strand_seq)
  strand_add_fuzzer(tokenizer_json_fuzz SOURCES "${_fuzz}/tokenizer_json_fuzz.cpp" LIBS strand_bio)
  strand_add_fuzzer(annotation_fuzz SOURCES "${_fuzz}/annotation_fuzz.cpp" LIBS strand_bio)
  strand_add_fuzzer(selfies_fuzz SOURCES "${_fuzz}/selfies_fuzz.cpp" LIBS strand_selfies)
  strand_add_fuzzer(spectra_fuzz SOURCES "${_fuzz}/spectra_fuzz.cpp" LIBS strand_bio)
  add_custom_target(strand_fuzzers DEPENDS fastx_fuzz gc_prt_fuzz codon_usage_fuzz safetensors_fuzz tokenizer_json_fuzz
                    annotation_fuzz selfies_fuzz spectra_fuzz)
endif()
