# Install rules and CPack (.deb); see packaging/.
include(GNUInstallDirs)
install(TARGETS dype RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(DYPE_BUILD_GUI)
  install(TARGETS dype-studio RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
