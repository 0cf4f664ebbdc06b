# Copies the GStreamer runtime the app ships into -Out (src-tauri/gstreamer): every DLL of
# GStreamer's bin folder (the libraries the plugins link), the plugins listed in
# installer/gstreamer-plugins.txt that exist for Windows, and the plugin scanner. The app sets
# GStreamer's plugin path, scanner and registry to these before GStreamer starts
# (src-tauri/src/bundled_gstreamer.rs), so a system GStreamer cannot leak in.
param(
  [Parameter(Mandatory = $true)][string]$Root,
  [Parameter(Mandatory = $true)][string]$Out
)
$ErrorActionPreference = "Stop"
$list = Join-Path $PSScriptRoot "..\gstreamer-plugins.txt"
$plugins = Get-Content $list | Where-Object { $_ -and -not $_.StartsWith("#") } | ForEach-Object { $_.Trim() }

Remove-Item -Recurse -Force $Out -ErrorAction SilentlyContinue
$bin = New-Item -ItemType Directory -Force (Join-Path $Out "bin")
$pluginDir = New-Item -ItemType Directory -Force (Join-Path $Out "lib\gstreamer-1.0")
$scannerDir = New-Item -ItemType Directory -Force (Join-Path $Out "libexec\gstreamer-1.0")

Copy-Item (Join-Path $Root "bin\*.dll") $bin
$found = 0
foreach ($name in $plugins) {
  $dll = Join-Path $Root "lib\gstreamer-1.0\gst$name.dll"
  if (Test-Path $dll) {
    Copy-Item $dll $pluginDir
    $found++
  } else {
    Write-Host "not for Windows (skipped): $name"
  }
}
Copy-Item (Join-Path $Root "libexec\gstreamer-1.0\gst-plugin-scanner.exe") $scannerDir
$size = (Get-ChildItem -Recurse $Out | Measure-Object -Sum Length).Sum / 1MB
Write-Host ("staged {0} plugins and the runtime: {1:N0} MB in {2}" -f $found, $size, $Out)
if ($found -lt 20) { throw "only $found plugins staged: is $Root a GStreamer runtime?" }
