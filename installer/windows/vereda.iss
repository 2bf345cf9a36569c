; Inno Setup script for the Windows installer of Vereda: a per-machine install of the folder that
; installer/build.py leaves in dist\vereda\ (vereda.exe: the app; vereda-cli.exe: the IT commands).
;
; Build it on Windows after `python installer\build.py` (Inno Setup 6, https://jrsoftware.org/isinfo.php):
;     iscc /DAppVersion=0.1.0 installer\windows\vereda.iss
; It writes dist\vereda-<version>-windows-x86_64-setup.exe.
;
; Install silently (IT staff, software deployment tools), as an administrator:
;     vereda-0.1.0-windows-x86_64-setup.exe /VERYSILENT /SUPPRESSMSGBOXES /NORESTART /LOG="C:\Windows\Temp\vereda-install.log"
; Options: /DIR="D:\Vereda" (another folder), /TASKS="desktopicon" (adds a desktop shortcut), /LANG=en.
; Uninstall silently:
;     "C:\Program Files\Vereda\unins000.exe" /VERYSILENT /SUPPRESSMSGBOXES /NORESTART
; Uninstalling removes the program only: each user's clinic data (%LOCALAPPDATA%\Vereda) stay, on purpose.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Vereda"
#define Root "..\.."

[Setup]
; The AppId ties updates to earlier installs: never change it.
AppId={{6F1C7E52-3B9A-4C1D-9E0B-8A2F5D7C4B31}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Vereda
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per machine: installed once for every user of the laptop, by an administrator.
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir={#Root}\dist
OutputBaseFilename=vereda-{#AppVersion}-windows-x86_64-setup
SetupIconFile={#Root}\assets\icons\vereda.ico
UninstallDisplayIcon={app}\vereda.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; An update closes a running Vereda first (it locks its database cleanly on close) and starts nothing afterwards.
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "es"; MessagesFile: "compiler:Languages\Spanish.isl"
Name: "en"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; An update replaces the program folder's libraries wholesale: a file dropped in a newer version must not linger.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#Root}\dist\vereda\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\vereda.exe"; Parameters: "gui"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\vereda.exe"; Parameters: "gui"; Tasks: desktopicon

[Run]
Filename: "{app}\vereda.exe"; Parameters: "gui"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
