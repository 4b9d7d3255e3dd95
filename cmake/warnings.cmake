# Compile options shared by every acefit target: warnings, -march, sanitizers.
add_library(acefit_options INTERFACE)
target_compile_options(acefit_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Wformat=2 -Wimplicit-fallthrough>)
# GCC 12 reports false -Wrestrict warnings inside libstdc++'s string
# concatenation (GCC bug 105329); they are not about our code.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(acefit_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-restrict>)
endif()
if(ACEFIT_WERROR)
  target_compile_options(acefit_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
if(ACEFIT_ARCH)
  target_compile_options(acefit_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=${ACEFIT_ARCH}>)
endif()
if(ACEFIT_SANITIZE)
  target_compile_options(acefit_options INTERFACE -fsanitize=${ACEFIT_SANITIZE} -fno-omit-frame-pointer
    -fno-sanitize-recover=all)
  target_link_options(acefit_options INTERFACE -fsanitize=${ACEFIT_SANITIZE})
endif()
if(ACEFIT_BUILD_FUZZERS)
  # Coverage instrumentation for the whole library, so libFuzzer sees the
  # parsers' branches and not only the target file.
  target_compile_options(acefit_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
