// Anchor translation unit of the shared precompiled header (see core/CMakeLists.txt).
