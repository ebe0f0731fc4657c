// backlog-server.cpp：教程“listen()的第二个参数”一节的服务端：listen(listenfd,3)后sleep(100000)，不accept()。
// sockfd: unchanged except sleep() -> sockfd_sleep() (see README.md).
#include <iostream>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <unistd.h>
#include <netdb.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include "sockfd_sleep.h"
using namespace std;
int main(int argc,char *argv[])
{
  if (argc!=2)
  {
    cout << "Using:./demo2 通讯端口\nExample:./demo2 5005\n\n";  
      // 端口大于1024，不与其它的重复。
    cout << "注意：运行服务端程序的Linux系统的防火墙必须要开通5005端口。\n";
    cout << "      如果是云服务器，还要开通云平台的访问策略。\n\n";
    return -1;
  }
  int listenfd = -1;
  struct sockaddr_in servaddr; 
  char buffer[1024] = {0};
  listenfd = socket(AF_INET,SOCK_STREAM,0);
  if (listenfd==-1) 
  { 
    perror("socket"); return -1; 
  }
  memset(&servaddr,0,sizeof(servaddr));
  servaddr.sin_family = AF_INET;       
  servaddr.sin_addr.s_addr = htonl(INADDR_ANY); 
  servaddr.sin_port = htons(atoi(argv[1]));   
  if (bind(listenfd,(struct sockaddr *)&servaddr,sizeof(servaddr)) != 0 )
  { 
    perror("bind"); close(listenfd); return -1; 
  }
  if (listen(listenfd,3) != 0 ) 
  { 
    perror("listen"); close(listenfd); return -1; 
  }
  //验证listen 方法的第二个参数 是已连接的Socket的个数。
  sockfd_sleep(100000); 
  int clientfd=accept(listenfd,0,0);
  if (clientfd==-1)
  {
    perror("accept"); close(listenfd); return -1; 
  }
  cout << "客户端已连接。\n";
  while (true)
  {
    int iret;
    memset(buffer,0,sizeof(buffer));
    if ( (iret=recv(clientfd,buffer,sizeof(buffer),0))<=0) 
    {
       cout << "iret=" << iret << endl;  break;   
    }
    cout << "接收：" << buffer << endl;
    strcpy(buffer,"ok"); 
    if ((iret=send(clientfd,buffer,strlen(buffer),0))<=0) 
    { 
      perror("send"); break; 
    }
    cout << "发送：" << buffer << endl;
  }
  close(listenfd);   
  close(clientfd);   
}
