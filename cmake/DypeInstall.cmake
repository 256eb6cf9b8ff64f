# Install rules and packaging. `cmake --install build` puts the executables in bin/ and, with the GUI, the desktop
# entry, icons and AppStream metadata under share/; `cpack -G DEB` (run in the build folder) turns the same files
# into a .deb whose dependencies are declared in packaging/DypeCPack.cmake.
include(GNUInstallDirs)

install(TARGETS dype RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
if(DYPE_BUILD_GUI)
  install(TARGETS dype-studio RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
  install(FILES "${CMAKE_SOURCE_DIR}/resources/dype-studio.desktop"
          DESTINATION ${CMAKE_INSTALL_DATADIR}/applications COMPONENT runtime)
  install(FILES "${CMAKE_SOURCE_DIR}/resources/icons/dype-studio.svg"
          DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps COMPONENT runtime)
  install(FILES "${CMAKE_SOURCE_DIR}/resources/icons/dype-studio-256.png"
          DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/256x256/apps RENAME dype-studio.png COMPONENT runtime)
  install(FILES "${CMAKE_SOURCE_DIR}/packaging/io.github.dype_studio.metainfo.xml"
          DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo COMPONENT runtime)
endif()
install(FILES "${CMAKE_SOURCE_DIR}/README.md" DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/dype-studio COMPONENT runtime)

include("${CMAKE_SOURCE_DIR}/packaging/DypeCPack.cmake")
