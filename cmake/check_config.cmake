# Checks the application's Kconfig values that Kconfig itself cannot: included by
# CMakeLists.txt, and runnable alone (the test command does, without Zephyr):
#
#   cmake -DCONFIG_SECURE_INFER_HUK_DERIV_LABEL_EXTRA=dev-2 -DCONFIG_SECURE_INFER_CSR_ORG=Linaro \
#         -DCONFIG_SECURE_INFER_RESULT_RECIPIENT= -P cmake/check_config.cmake

function(si_check_config)
  set(extra "${CONFIG_SECURE_INFER_HUK_DERIV_LABEL_EXTRA}")
  string(LENGTH "${extra}" len)
  if(len GREATER 15)
    message(FATAL_ERROR
      "CONFIG_SECURE_INFER_HUK_DERIV_LABEL_EXTRA=\"${extra}\" has ${len} characters; "
      "HUK_DERIV_LABEL_EXTRA must be at most 15 characters")
  endif()
  set(recipient "${CONFIG_SECURE_INFER_RESULT_RECIPIENT}")
  if(NOT recipient STREQUAL "" AND NOT recipient MATCHES "^04[0-9a-fA-F]+$")
    message(FATAL_ERROR
      "CONFIG_SECURE_INFER_RESULT_RECIPIENT must be empty (the demo recipient) or an "
      "uncompressed P-256 point in hex (130 digits starting 04)")
  endif()
  string(LENGTH "${recipient}" len)
  if(NOT recipient STREQUAL "" AND NOT len EQUAL 130)
    message(FATAL_ERROR
      "CONFIG_SECURE_INFER_RESULT_RECIPIENT has ${len} hex digits, not 130")
  endif()
  set(org "${CONFIG_SECURE_INFER_CSR_ORG}")
  string(LENGTH "${org}" len)
  if(len EQUAL 0 OR len GREATER 64)
    message(FATAL_ERROR "CONFIG_SECURE_INFER_CSR_ORG must have 1 to 64 characters")
  endif()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE)
  si_check_config()
  message(STATUS "secure-inference configuration ok")
endif()
