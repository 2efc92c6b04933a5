# tests for bio
