# Builds a staticlib of this project's Cargo workspace for the board's CPU and makes it
# an imported static library, for both CMake projects of the build: Zephyr's (the
# non-secure image) and TF-M's (the secure image, through tfm_partitions/).
#
#   si_rust_staticlib(<target> PACKAGE <cargo package> LIBRARY <archive stem>
#                     [FEATURES <feature>...] [ENV <NAME=value>...])
#
# The Rust target is thumbv8m.main-none-eabi (soft float, as TF-M and Zephyr build
# for this board). Where rustup has that target's standard library, cargo uses it;
# otherwise Debian's rustc-web builds `core` from rust-web-src (-Zbuild-std, with
# RUSTC_BOOTSTRAP=1 for that cargo process only). SECURE_INFER_CARGO and
# SECURE_INFER_RUSTC override the cargo and rustc found.
#
# The archive is then made fit for a C link (both are facts measured on TF-M 2.1.1):
# - `objcopy --localize-hidden`: compiler_builtins defines weak, hidden `memcpy`,
#   `memmove`, `__aeabi_*`...; left global they would silently replace the C
#   library's for the whole image;
# - `--remove-section=.note.GNU-stack`: TF-M links with --fatal-warnings, and the
#   LLVM objects' note makes GNU ld warn.

set(SI_RUST_TARGET thumbv8m.main-none-eabi)
get_filename_component(SI_WORKSPACE "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

function(si_rust_toolchain out_cmd)
  set(cmd "")
  if(SECURE_INFER_CARGO)
    set(cargo ${SECURE_INFER_CARGO})
  endif()
  execute_process(COMMAND rustup target list --installed
    OUTPUT_VARIABLE installed ERROR_QUIET RESULT_VARIABLE rc)
  if(NOT SECURE_INFER_CARGO AND rc EQUAL 0 AND installed MATCHES "${SI_RUST_TARGET}")
    find_program(cargo cargo REQUIRED)
    set(cmd ${cargo})
  else()
    if(NOT SECURE_INFER_CARGO)
      set(cargo /usr/bin/cargo)
    endif()
    set(rustc /usr/bin/rustc)
    if(SECURE_INFER_RUSTC)
      set(rustc ${SECURE_INFER_RUSTC})
    endif()
    if(NOT EXISTS ${cargo} OR NOT EXISTS ${rustc})
      message(FATAL_ERROR
        "No Rust toolchain for ${SI_RUST_TARGET}: either `rustup target add ${SI_RUST_TARGET}` "
        "or `apt-get install rustc-web cargo-web rust-web-src` (Debian), "
        "or set SECURE_INFER_CARGO and SECURE_INFER_RUSTC.")
    endif()
    set(cmd ${CMAKE_COMMAND} -E env RUSTC=${rustc} RUSTC_BOOTSTRAP=1 ${cargo})
    set(SI_BUILD_STD -Zbuild-std=core,alloc,compiler_builtins
                     -Zbuild-std-features=compiler-builtins-mem PARENT_SCOPE)
  endif()
  set(${out_cmd} ${cmd} PARENT_SCOPE)
endfunction()

function(si_rust_staticlib target)
  cmake_parse_arguments(ARG "" "PACKAGE;LIBRARY" "FEATURES;ENV" ${ARGN})
  si_rust_toolchain(cargo)
  set(cargo_dir ${CMAKE_BINARY_DIR}/cargo)
  set(raw ${cargo_dir}/${SI_RUST_TARGET}/m33/lib${ARG_LIBRARY}.a)
  set(out ${CMAKE_BINARY_DIR}/rust/lib${ARG_LIBRARY}.a)
  string(REPLACE ";" "," features "${ARG_FEATURES}")
  if(CMAKE_OBJCOPY)
    set(objcopy ${CMAKE_OBJCOPY})
  else()
    find_program(objcopy arm-none-eabi-objcopy REQUIRED)
  endif()
  # cargo decides what to rebuild; CMake runs it on every build. The archive the
  # link reads is replaced only when its bytes change (copy_if_different; Ninja
  # re-checks a byproduct's time stamp), so a build with nothing changed relinks
  # and re-signs nothing.
  add_custom_target(${target}_cargo
    COMMAND ${CMAKE_COMMAND} -E env CARGO_TARGET_DIR=${cargo_dir} ${ARG_ENV}
            ${cargo} build --locked --package ${ARG_PACKAGE} --target ${SI_RUST_TARGET}
            --profile m33 ${SI_BUILD_STD} --no-default-features --features "${features}"
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/rust
    COMMAND ${objcopy} --localize-hidden --remove-section=.note.GNU-stack ${raw} ${out}.new
    COMMAND ${CMAKE_COMMAND} -E copy_if_different ${out}.new ${out}
    BYPRODUCTS ${out}
    WORKING_DIRECTORY ${SI_WORKSPACE}
    COMMENT "cargo: ${ARG_PACKAGE} for ${SI_RUST_TARGET} -> lib${ARG_LIBRARY}.a"
    USES_TERMINAL VERBATIM)
  add_library(${target} STATIC IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION ${out})
  add_dependencies(${target} ${target}_cargo)
endfunction()
