# Reads the built MSI's tables through Windows Installer's COM API: the pinned upgrade code,
# a per-machine package, and the school-settings registry rows. Fails the CI job otherwise.
param([Parameter(Mandatory = $true)][string]$Msi)
$ErrorActionPreference = "Stop"
$installer = New-Object -ComObject WindowsInstaller.Installer
$db = $installer.GetType().InvokeMember("OpenDatabase", "InvokeMethod", $null, $installer, @($Msi, 0))
function Query([string]$sql) {
  $view = $db.GetType().InvokeMember("OpenView", "InvokeMethod", $null, $db, @($sql))
  $view.GetType().InvokeMember("Execute", "InvokeMethod", $null, $view, $null)
  $rows = @()
  while ($record = $view.GetType().InvokeMember("Fetch", "InvokeMethod", $null, $view, $null)) {
    $rows += $record.GetType().InvokeMember("StringData", "GetProperty", $null, $record, 1)
  }
  return $rows
}
$upgrade = Query "SELECT Value FROM Property WHERE Property = 'UpgradeCode'"
if ($upgrade -ne "{6E91A913-6891-4959-9D96-09CBE5AC0B17}") { throw "upgrade code is $upgrade" }
$scope = Query "SELECT Value FROM Property WHERE Property = 'ALLUSERS'"
if ($scope -ne "1") { throw "not a per-machine package (ALLUSERS=$scope)" }
$names = Query "SELECT Name FROM Registry WHERE Key = 'SOFTWARE\Policies\Classroom\Classroom'"
foreach ($want in @("serverUrl", "language", "studentsMayRecord", "screenShareSources", "updates")) {
  if ($names -notcontains $want) { throw "no policy value $want in the MSI" }
}
Write-Host "MSI ok: upgrade code pinned, per-machine, school settings present"
